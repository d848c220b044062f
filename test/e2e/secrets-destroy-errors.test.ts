// Secrets never leak; destroy never loses a workspace it was not told to; bad config touches
// nothing; a partial failure reports exactly what happened and leaves only the rest to do.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, containerState, docker, dockerCli, execIn, testProject, volumeExists, volumeOf, type TestProject, busyboxConfig } from './harness.js';

const DOCKERD_LOG = '/var/tmp/sandboxshift/dockerd.log';
const CANARY = `canary-${Math.random().toString(36).slice(2)}-value`;

describe('secrets', () => {
  let p: TestProject;
  const outputs: string[] = [];
  beforeAll(() => {
    p = testProject(
      'secret',
      `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  agent:
    image: busybox
    resources: { cpus: 0.25, memory: 32m, pids: 32 }
    secrets:
      api_key: { fromEnv: CANARY_KEY }
`,
    );
  });
  afterAll(async () => p.cleanup());

  const run = async (args: string[], value = CANARY) => {
    const r = await p.run(args, { env: { CANARY_KEY: value } });
    outputs.push(r.stdout, r.stderr);
    return r;
  };

  it('delivers the secret as a file only the environment user can read', async () => {
    expect((await run(['plan', '--out', 'plan.json'])).code).toBe(0);
    expect((await run(['plan', '--json'])).code).toBe(0);
    const r = await run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    const c = containerOf(p.name, 'agent');
    expect(await execIn(c, ['cat', '/run/secrets/api_key'])).toBe(CANARY);
    expect(await execIn(c, ['stat', '-c', '%u %a', '/run/secrets/api_key'])).toBe('65532 400\n');
    expect(await execIn(c, ['stat', '-c', '%u %a', '/run/secrets'])).toBe('65532 500\n');
    // Root inside the sandbox has no capabilities, so it cannot read another user's 0400 file.
    await expect(dockerCli(['exec', '-u', '0', c, 'cat', '/run/secrets/api_key'])).rejects.toThrow(/Permission denied/);
  });

  it('shows a changed value as changed, by name only', async () => {
    const r = await run(['plan'], `${CANARY}-rotated`);
    expect(r.stdout).toContain('secret api_key changed (value hidden)');
    const json = await run(['plan', '--json'], `${CANARY}-rotated`);
    expect(JSON.parse(json.stdout).resource_changes[0].reasons[0]).toEqual({
      code: 'attribute_changed',
      attribute: 'secrets.api_key',
      message: 'secret api_key changed (value hidden)',
    });
    expect((await run(['apply', '--auto-approve'], `${CANARY}-rotated`)).code).toBe(0);
    expect(await execIn(containerOf(p.name, 'agent'), ['cat', '/run/secrets/api_key'])).toBe(`${CANARY}-rotated`);
    expect((await run(['status', '--json'], `${CANARY}-rotated`)).code).toBe(0);
  });

  it('never appears in any output, plan file, label, env or engine record', async () => {
    const files = readdirSync(p.dir).map((f) => readFileSync(join(p.dir, f), 'utf8'));
    const inspect = await dockerCli(['inspect', containerOf(p.name, 'agent')]);
    const volume = await dockerCli(['volume', 'inspect', volumeOf(p.name, 'agent')]);
    // The engine's own log, when setup started the engine (it does in CI).
    const engineLog = existsSync(DOCKERD_LOG) ? readFileSync(DOCKERD_LOG, 'utf8') : '';
    const haystack = [...outputs, ...files, inspect, volume, engineLog].join('\n');
    expect(outputs.length).toBeGreaterThan(8);
    expect(haystack).toContain('api_key');
    expect(haystack).not.toContain(CANARY);
  });

  it('names a missing secret source without crashing', async () => {
    const r = await p.run(['plan'], { env: { CANARY_KEY: '' } });
    expect(r.code).toBe(0);
    const unset = await p.run(['plan'], { env: {} });
    // CANARY_KEY is not set in the test process itself.
    expect(process.env.CANARY_KEY).toBeUndefined();
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain("secret 'api_key' of environment 'agent': environment variable CANARY_KEY is not set");
    expect(unset.stderr).toContain('hint: export CANARY_KEY=');
  });
});

describe('destroy', () => {
  let p: TestProject;
  beforeAll(async () => {
    p = testProject(
      'destroy',
      busyboxConfig(`  scratch: {}
  keeper: { protect: true }
`),
    );
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    await execIn(containerOf(p.name, 'keeper'), ['sh', '-c', 'echo mine > /workspace/work.txt']);
  });
  afterAll(async () => p.cleanup());

  it('removes containers and keeps every volume', async () => {
    const r = await p.run(['destroy', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('- environment.keeper will be destroyed');
    expect(r.stdout).toContain('container removed; /workspace volume kept');
    expect(r.stdout).toContain('Destroy complete! Resources: 0 added, 0 changed, 2 destroyed.');
    expect(await containerState(p.name, 'scratch')).toBeNull();
    expect(await containerState(p.name, 'keeper')).toBeNull();
    expect(await volumeExists(volumeOf(p.name, 'scratch'))).toBe(true);
    expect(await volumeExists(volumeOf(p.name, 'keeper'))).toBe(true);
  });

  it('brings the workspace back on the next apply', async () => {
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    expect(await execIn(containerOf(p.name, 'keeper'), ['cat', '/workspace/work.txt'])).toBe('mine\n');
  });

  it('refuses --purge-volumes for a protected environment and touches nothing', async () => {
    const r = await p.run(['destroy', '--purge-volumes', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("environment 'keeper' is protected (protect: true); --purge-volumes will not delete its /workspace volume");
    expect(await containerState(p.name, 'scratch')).toBe('running');
    expect(await containerState(p.name, 'keeper')).toBe('running');
  });

  it('purges an unprotected workspace when told to', async () => {
    const r = await p.run(['destroy', '--purge-volumes', '--target', 'scratch', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('/workspace volume DELETED');
    expect(await volumeExists(volumeOf(p.name, 'scratch'))).toBe(false);
    expect(await volumeExists(volumeOf(p.name, 'keeper'))).toBe(true);
    expect(await containerState(p.name, 'keeper')).toBe('running');
  });
});

describe('destroy with duplicate containers', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject(
      'dupes',
      `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  web: { image: busybox, resources: { cpus: 0.25, memory: 32m, pids: 32 } }
`,
    );
  });
  afterAll(async () => p.cleanup());

  it('removes all three containers of one environment and reports each', async () => {
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    // Two strays made by hand with the environment's labels, as a user copying a container would.
    const original = await docker.getContainer(containerOf(p.name, 'web')).inspect();
    const copies = await Promise.all(
      ['copy1', 'copy2'].map((n) =>
        docker.createContainer({ name: `${containerOf(p.name, 'web')}-${n}`, Image: original.Config.Image, Labels: original.Config.Labels, HostConfig: { NetworkMode: 'none' } }),
      ),
    );
    const d = await p.run(['destroy', '--auto-approve']);
    expect(d.code, d.stderr).toBe(0);
    const dupes = copies.map((c) => `environment.web[duplicate ${c.id.slice(0, 12)}]`);
    for (const address of ['environment.web', ...dupes]) expect(d.stdout).toContain(`${address}: Destruction complete`);
    expect(d.stdout).toContain('Destroy complete! Resources: 0 added, 0 changed, 3 destroyed.');
    const left = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.environment=web'] } });
    expect(left).toEqual([]);
  });
});

describe('bad input and partial failure', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('bad', 'version: 1\n');
  });
  afterAll(async () => p.cleanup());

  it('gives positioned errors for a bad config and touches nothing', async () => {
    p.write(`version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
enviroments:
  a: { image: busybox }
`);
    for (const cmd of [['validate'], ['plan'], ['apply', '--auto-approve']]) {
      const r = await p.run(cmd);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/sandboxshift\.yaml:5:1: error: unknown key 'enviroments'.*did you mean 'environments'\?/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    p.write('version: 1\nproject: {{project}}\nenvironments:\n  a: { image: "unclosed\n');
    const broken = await p.run(['plan']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/sandboxshift\.yaml:\d+:\d+: error: /);
    expect(broken.stderr).not.toMatch(/\n\s+at /);
    const left = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`] } });
    expect(left).toEqual([]);
  });

  it('goes on with independent work when one environment fails, reports both, and leaves only the rest', async () => {
    p.write(`version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
defaults:
  image: busybox
  resources: { cpus: 0.25, memory: 32m, pids: 32 }
environments:
  good-1: {}
  good-2: {}
  broken:
    mounts: [{ source: /nonexistent/sandboxshift-test, target: /data }]
    allowDangerous: [host-mounts]
`);
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/environment\.broken: Creation FAILED after [\d.]+s at step create-container: .*nonexistent/);
    expect(r.stdout).toContain('Apply incomplete: 2 completed, 1 failed, 0 skipped.');
    expect(r.stdout).toContain('  completed: environment.good-1 (create)');
    expect(r.stdout).toContain('  completed: environment.good-2 (create)');
    expect(r.stdout).toContain('  failed:    environment.broken (create, at step create-container)');
    expect(await containerState(p.name, 'good-1')).toBe('running');
    const next = await p.run(['plan', '--json']);
    const pending = JSON.parse(next.stdout).resource_changes.filter((c: { kind: string }) => c.kind !== 'no-op');
    expect(pending.map((c: { address: string }) => c.address)).toEqual(['environment.broken']);
  });
});
