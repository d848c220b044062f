// A container renamed with `docker rename` is planned back to its name, in place (same
// container, data effect none); when its name was taken by another container since, the plan says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, docker, dockerCli, testProject, type TestProject, busyboxConfig } from './harness.js';

const config = busyboxConfig('  one: {}\n');

describe('docker rename outside sandboxshift', () => {
  let p: TestProject;
  let squatter: string | null = null;
  beforeAll(async () => {
    p = testProject('rename', config);
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    if (squatter) await docker.getContainer(squatter).remove({ force: true });
    await p.cleanup();
  });

  it('plans a rename back, in place, and apply does exactly that', async () => {
    const expected = containerOf(p.name, 'one');
    const id = (await docker.getContainer(expected).inspect()).Id;
    const moved = `${p.name}-moved`;
    await dockerCli(['rename', expected, moved]);
    const planned = await p.run(['plan', '--detailed-exitcode']);
    expect(planned.code, planned.stderr).toBe(2);
    expect(planned.stdout).toContain('~ environment.one will be updated in place');
    expect(planned.stdout).toContain(`renamed outside sandboxshift to ${moved}`);
    const json = JSON.parse((await p.run(['plan', '--json'])).stdout);
    const change = json.resource_changes.find((c: { address: string }) => c.address === 'environment.one');
    expect(change.steps).toEqual(['rename-container']);
    expect(change.data_effect).toBe('none');
    expect(change.reasons).toEqual([{ code: 'renamed', message: `renamed outside sandboxshift to ${moved}` }]);
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('Apply complete! Resources: 0 added, 1 changed, 0 destroyed.');
    const after = await docker.getContainer(expected).inspect();
    expect(after.Id).toBe(id);
    expect(after.State.Status).toBe('running');
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('when another container took the name, says so and touches nothing', async () => {
    const expected = containerOf(p.name, 'one');
    const moved = `${p.name}-moved`;
    await dockerCli(['rename', expected, moved]);
    squatter = (await dockerCli(['create', '--name', expected, '--network', 'none', 'sandboxshift/busybox:test', 'true'])).trim();
    const r = await p.run(['plan']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: environment 'one' was renamed outside sandboxshift to ${moved}, and its name ${expected} is now taken by another container (${squatter.slice(0, 12)})`);
    expect(r.stderr).toContain(`hint: rename or remove that container (docker rename ${squatter.slice(0, 12)} NEW_NAME), then plan again; sandboxshift will rename ${moved} back`);
    const a = await p.run(['apply', '--auto-approve']);
    expect(a.code).toBe(1);
    expect((await docker.getContainer(moved).inspect()).State.Status).toBe('running');
    expect((await docker.getContainer(expected).inspect()).Id).toBe(squatter);
  });
});
