// runsc (gVisor) environments for real, and the JSON plan contract against its schema.
// What happens inside the gVisor sandbox is recorded by the environment's own command into
// /workspace and read back through the engine's archive API, which also proves that a
// multi-process command runs under runsc (tini as init broke that, and a pids limit without
// headroom for gVisor's own threads crashed the sandbox: both fixed, both caught here).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020Module from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, docker, readWorkspaceFile, testProject, type TestProject } from './harness.js';

const planSchema = JSON.parse(readFileSync(new URL('../../schemas/plan.schema.json', import.meta.url), 'utf8'));
// ajv is CommonJS: under Node's ESM loader its class is the default export's `default`.
const Ajv2020 = (Ajv2020Module as unknown as { default: typeof Ajv2020Module }).default ?? Ajv2020Module;
const validatePlan = new (Ajv2020 as unknown as new (o: object) => import('ajv').default)({ allErrors: true, strict: false }).compile(planSchema);

const REPORT = [
  'dmesg > /workspace/dmesg.txt',
  'cat /run/secrets/token > /workspace/token.txt',
  'cat /run/secrets/deploy_key > /workspace/deploy.txt',
  'grep -E "^(Cap|NoNewPrivs)" /proc/self/status > /workspace/status.txt',
  'id -u > /workspace/uid.txt',
  'echo done > /workspace/done.txt',
  'exec sleep infinity',
].join('; ');

describe('gVisor and the JSON plan', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject(
      'gvisor',
      `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  sandboxed:
    image: busybox
    runtime: runsc
    resources: { cpus: 0.5, memory: 128m, pids: 64 }
    command: '${REPORT}'
    secrets:
      token: { fromEnv: GV_TOKEN }
      deploy_key: { fromFile: ./deploy.key }
`,
    );
    writeFileSync(join(p.dir, 'deploy.key'), 'file-secret-line\n', { mode: 0o600 });
  });
  afterAll(async () => p.cleanup());

  it('prints a JSON plan that matches schemas/plan.schema.json', async () => {
    const r = await p.run(['plan', '--json'], { env: { GV_TOKEN: 'gv-secret' } });
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(validatePlan(plan), JSON.stringify(validatePlan.errors)).toBe(true);
    expect(plan.format_version).toBe('1.0');
    expect(plan.resource_changes[0].change.after.runtime).toBe('runsc');
    expect(plan.resource_changes[0].change.after.secrets).toEqual(['deploy_key', 'token']);
    expect(r.stdout).not.toContain('gv-secret');
    expect(r.stdout).not.toContain('file-secret-line');
  });

  it('runs the environment under gVisor, hardened, with its secrets', async () => {
    const r = await p.run(['apply', '--auto-approve'], { env: { GV_TOKEN: 'gv-secret' } });
    expect(r.code, r.stderr).toBe(0);
    const c = containerOf(p.name, 'sandboxed');
    expect((await docker.getContainer(c).inspect()).HostConfig.Runtime).toBe('runsc');
    expect(await readWorkspaceFile(c, 'done.txt')).toBe('done\n');
    // gVisor's own kernel log is the proof that the sandbox kernel, not the host's, answers.
    expect(await readWorkspaceFile(c, 'dmesg.txt')).toMatch(/gVisor/);
    expect(await readWorkspaceFile(c, 'token.txt')).toBe('gv-secret');
    expect(await readWorkspaceFile(c, 'deploy.txt')).toBe('file-secret-line\n');
    expect(await readWorkspaceFile(c, 'status.txt')).toMatch(/CapEff:\s+0000000000000000/);
    // gVisor's /proc/self/status has no NoNewPrivs line; the engine record shows the setting.
    expect((await docker.getContainer(c).inspect()).HostConfig.SecurityOpt).toContain('no-new-privileges:true');
    expect(await readWorkspaceFile(c, 'uid.txt')).toBe('65532\n');
    const again = await p.run(['plan', '--detailed-exitcode', '--json'], { env: { GV_TOKEN: 'gv-secret' } });
    expect(again.code).toBe(0);
    expect(validatePlan(JSON.parse(again.stdout)), JSON.stringify(validatePlan.errors)).toBe(true);
  });
});
