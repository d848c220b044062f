// The core promise, step by step on one project: apply from scratch, nothing left to do,
// a change replaces and /workspace survives, drift is seen and fixed, limits change in place.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, containerState, docker, dockerCli, execIn, testProject, volumeOf, type TestProject } from './harness.js';

const config = (role: string, memory = '64m') => `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  alpha:
    image: busybox
    env: { ROLE: ${role} }
    resources: { cpus: 0.5, memory: ${memory}, pids: 64 }
  beta:
    image: busybox
    resources: { cpus: 0.25, memory: 64m, pids: 64 }
`;

describe('plan and apply on the real engine', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('life', config('coder'));
  });
  afterAll(async () => p.cleanup());

  it('plans two creations with reasons, and --detailed-exitcode says 2', async () => {
    const r = await p.run(['plan', '--detailed-exitcode']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('+ environment.alpha will be created');
    expect(r.stdout).toContain('+ environment.beta will be created');
    expect(r.stdout).toContain('because:   new environment');
    expect(r.stdout).toContain('Plan: 2 to add, 0 to change, 0 to destroy.');
  });

  it('applies from scratch: running, hardened, non-root, /workspace mounted', async () => {
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/environment\.alpha: Creation complete after [\d.]+s \[id=[0-9a-f]{12}\]/);
    expect(r.stdout).toContain('Apply complete! Resources: 2 added, 0 changed, 0 destroyed.');
    expect(await containerState(p.name, 'alpha')).toBe('running');
    const info = await docker.getContainer(containerOf(p.name, 'alpha')).inspect();
    expect(info.Config.User).toBe('65532:65532');
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges:true');
    expect(info.HostConfig.NetworkMode).toBe('none');
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.PidsLimit).toBe(64);
    expect(info.Config.Labels?.['io.sandboxshift.project']).toBe(p.name);
    expect(info.Config.Labels?.['io.sandboxshift.environment']).toBe('alpha');
    expect(info.Config.Labels?.['io.sandboxshift.config-hash']).toMatch(/^[0-9a-f]{64}$/);
    expect((await execIn(containerOf(p.name, 'alpha'), ['id', '-u'])).trim()).toBe('65532');
    expect(await execIn(containerOf(p.name, 'alpha'), ['sh', '-c', 'echo $ROLE'])).toBe('coder\n');
  });

  it('plans nothing the second time', async () => {
    const r = await p.run(['plan', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('No changes. 2 environments match the configuration.');
  });

  it('replaces on an env change, says why, and /workspace survives', async () => {
    await execIn(containerOf(p.name, 'alpha'), ['sh', '-c', 'echo precious > /workspace/notes.txt']);
    const before = (await docker.getContainer(containerOf(p.name, 'alpha')).inspect()).Id;
    p.write(config('reviewer'));
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain('-/+ environment.alpha must be replaced');
    expect(planned.stdout).toContain('because:   env.ROLE changed');
    expect(planned.stdout).toContain('data:      new container; /workspace kept');
    expect(planned.stdout).toContain('Plan: 1 to add, 0 to change, 1 to destroy.');
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    const after = (await docker.getContainer(containerOf(p.name, 'alpha')).inspect()).Id;
    expect(after).not.toBe(before);
    expect(await execIn(containerOf(p.name, 'alpha'), ['cat', '/workspace/notes.txt'])).toBe('precious\n');
    expect(await execIn(containerOf(p.name, 'alpha'), ['sh', '-c', 'echo $ROLE'])).toBe('reviewer\n');
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('updates cpu/memory/pids in place without a restart', async () => {
    const before = await docker.getContainer(containerOf(p.name, 'alpha')).inspect();
    p.write(config('reviewer', '96m'));
    const planned = await p.run(['plan', '--json']);
    const json = JSON.parse(planned.stdout);
    const alpha = json.resource_changes.find((c: { address: string }) => c.address === 'environment.alpha');
    expect(alpha.change.actions).toEqual(['update']);
    expect(alpha.data_effect).toBe('none');
    expect(alpha.reasons).toEqual([{ code: 'resources_changed', attribute: 'resources.memory', message: 'resources.memory 64 MiB → 96 MiB' }]);
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Resources: 0 added, 1 changed, 0 destroyed.');
    const after = await docker.getContainer(containerOf(p.name, 'alpha')).inspect();
    expect(after.Id).toBe(before.Id);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
    expect(after.HostConfig.Memory).toBe(96 * 1024 * 1024);
    const again = await p.run(['plan', '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
  });

  it('sees an out-of-band docker stop and docker rm, says so, and fixes both', async () => {
    await dockerCli(['stop', '-t', '1', containerOf(p.name, 'alpha')]);
    await dockerCli(['rm', '-f', containerOf(p.name, 'beta')]);
    const planned = await p.run(['plan', '--detailed-exitcode']);
    expect(planned.code).toBe(2);
    expect(planned.stdout).toContain('> environment.alpha will be started');
    expect(planned.stdout).toMatch(/because: +stopped outside sandboxshift \(Exited/);
    expect(planned.stdout).toContain('+ environment.beta will be created');
    expect(planned.stdout).toContain(`missing: container ${containerOf(p.name, 'beta')} not found`);
    expect(planned.stdout).toContain(`existing volume ${volumeOf(p.name, 'beta')} reused`);
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(await containerState(p.name, 'alpha')).toBe('running');
    expect(await containerState(p.name, 'beta')).toBe('running');
    expect(await execIn(containerOf(p.name, 'alpha'), ['cat', '/workspace/notes.txt'])).toBe('precious\n');
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('deletes an environment removed from the config but keeps its volume', async () => {
    p.write(config('reviewer', '96m').replace(/ {2}beta:[\s\S]*$/, ''));
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain('- environment.beta will be destroyed');
    expect(planned.stdout).toContain('environment removed from config; /workspace volume kept');
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(await containerState(p.name, 'beta')).toBeNull();
    await expect(docker.getVolume(volumeOf(p.name, 'beta')).inspect()).resolves.toBeTruthy();
  });
});
