// Interactive approval on a real terminal: only "yes" applies; anything else changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerState, runInTerminal, testProject, type TestProject } from './harness.js';

describe('approval on a terminal', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject(
      'approve',
      `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  solo: { image: busybox, resources: { cpus: 0.25, memory: 32m, pids: 32 } }
`,
    );
  });
  afterAll(async () => p.cleanup());

  it('rejects on any answer but yes, and changes nothing', async () => {
    const r = await runInTerminal(['apply'], p.dir, 'y');
    expect(r.stdout).toContain('Do you want to perform these actions?');
    expect(r.stdout).toContain("Only 'yes' will be accepted to approve.");
    expect(r.stdout).toContain('Apply cancelled; nothing was changed.');
    expect(r.code).toBe(1);
    expect(await containerState(p.name, 'solo')).toBeNull();
  });

  it('applies on yes', async () => {
    const r = await runInTerminal(['apply'], p.dir, 'yes');
    expect(r.stdout).toContain('Apply complete! Resources: 1 added, 0 changed, 0 destroyed.');
    expect(r.code).toBe(0);
    expect(await containerState(p.name, 'solo')).toBe('running');
  });

  it('asks before destroy too, and keeps the volume', async () => {
    const no = await runInTerminal(['destroy'], p.dir, 'no');
    expect(no.stdout).toContain('Do you really want to destroy these environments?');
    expect(no.stdout).toContain('Destroy cancelled; nothing was changed.');
    expect(await containerState(p.name, 'solo')).toBe('running');
    const status = await p.run(['status', '--json']);
    const env = JSON.parse(status.stdout).environments[0];
    expect(env).toMatchObject({ name: 'solo', state: 'running', container_name: `ss.${p.name}.solo`, volume: `ss.${p.name}.solo.workspace`, in_config: true });
  });
});
