// runsc (gVisor) environments for real, and the JSON plan contract against its schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, docker, execIn, testProject, type TestProject } from './harness.js';

const planSchema = JSON.parse(readFileSync(new URL('../../schemas/plan.schema.json', import.meta.url), 'utf8'));

describe('gVisor and the JSON plan', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('gvisor', `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  sandboxed:
    image: busybox
    runtime: runsc
    resources: { cpus: 0.5, memory: 64m, pids: 64 }
    secrets:
      token: { fromEnv: GV_TOKEN }
      deploy_key: { fromFile: ./deploy.key }
`);
    writeFileSync(join(p.dir, 'deploy.key'), 'file-secret-line\n', { mode: 0o600 });
  });
  afterAll(async () => p.cleanup());

  it('prints a JSON plan that matches schemas/plan.schema.json', async () => {
    const r = await p.run(['plan', '--json'], { env: { GV_TOKEN: 'gv-secret' } });
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(planSchema);
    expect(validate(plan), JSON.stringify(validate.errors)).toBe(true);
    expect(plan.format_version).toBe('1.0');
    expect(plan.resource_changes[0].change.after.runtime).toBe('runsc');
    expect(plan.resource_changes[0].change.after.secrets).toEqual(['deploy_key', 'token']);
    expect(r.stdout).not.toContain('gv-secret');
    expect(r.stdout).not.toContain('file-secret-line');
  });

  it('runs the environment under gVisor, hardened, with its secret', async () => {
    const r = await p.run(['apply', '--auto-approve'], { env: { GV_TOKEN: 'gv-secret' } });
    expect(r.code, r.stderr).toBe(0);
    const c = containerOf(p.name, 'sandboxed');
    expect((await docker.getContainer(c).inspect()).HostConfig.Runtime).toBe('runsc');
    // gVisor's own kernel log is the proof that the sandbox kernel, not the host's, answers.
    expect(await execIn(c, ['dmesg'])).toMatch(/gVisor/);
    expect(await execIn(c, ['cat', '/run/secrets/token'])).toBe('gv-secret');
    expect(await execIn(c, ['cat', '/run/secrets/deploy_key'])).toBe('file-secret-line\n');
    const status = await execIn(c, ['cat', '/proc/self/status']);
    expect(status).toMatch(/CapEff:\s+0000000000000000/);
    expect((await execIn(c, ['id', '-u'])).trim()).toBe('65532');
    const again = await p.run(['plan', '--detailed-exitcode', '--json'], { env: { GV_TOKEN: 'gv-secret' } });
    expect(again.code).toBe(0);
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(planSchema);
    expect(validate(JSON.parse(again.stdout)), JSON.stringify(validate.errors)).toBe(true);
  });
});
