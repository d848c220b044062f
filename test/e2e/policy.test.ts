// The engine's policy end to end, on a private engine (test/e2e/private-engine.ts): a policy is
// engine-wide, and one set on the shared engine would refuse every other test's apply.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_IMAGE } from '../../src/engine/lock.js';
import { busyboxConfig, CLI, TEST_IMAGE, testProject, type RunResult, type TestProject } from './harness.js';
import { startPrivateEngine, type PrivateEngine } from './private-engine.js';
import { WatchProcess } from './watch-process.js';

const ALL_RULES = `version: 1
images: { allow: ["sandboxshift/*"], digestPinnedOnly: false }
runtime: runc
environment: { cpus: 0.5, memory: 64m, pids: 64 }
project: { environments: 2, cpus: 1, memory: 128m }
engine: { environments: 10, cpus: 1, memory: 1g }
egress: { deny: ["*.corp.example"], maxEntries: 3 }
allowDangerous: []
idle: { maxStopAfter: 1h }
`;

describe('engine policy', () => {
  let engine: PrivateEngine;
  const projects: TestProject[] = [];
  let dir: TestProject;
  const env = () => ({ DOCKER_HOST: engine.host });
  const run = (p: TestProject, args: string[], extra: Record<string, string> = {}): Promise<RunResult> => p.run(args, { env: { ...env(), ...extra } });
  const project = (label: string, yaml: string) => {
    const p = testProject(label, yaml);
    projects.push(p);
    return p;
  };
  const policyFile = (name: string, text: string) => {
    const file = join(dir.dir, name);
    writeFileSync(file, text);
    return file;
  };
  const shown = async () => JSON.parse((await run(dir, ['policy', 'show', '--json'])).stdout) as { policy: Record<string, unknown> | null; setBy?: string; setAt?: string; hash?: string };
  const records = async () => (await engine.docker.listContainers({ all: true, filters: { label: ['io.sandboxshift.role=engine-policy'] } })).map((c) => c.Names[0]);
  const ours = async (p: TestProject) => (await engine.docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`] } })).map((c) => c.Names[0]).sort();

  beforeAll(async () => {
    engine = await startPrivateEngine([TEST_IMAGE, LOCK_IMAGE]);
    dir = project('policy-admin', busyboxConfig('  a: {}\n'));
  }, 600_000);

  afterAll(async () => {
    await engine?.teardown();
    for (const p of projects) await p.cleanup();
  });

  it('sets, shows, replaces and clears the policy; a bad file changes nothing', async () => {
    expect((await run(dir, ['policy', 'show'])).stdout).toBe('No policy is set on this engine.\n');
    const first = await run(dir, ['policy', 'set', policyFile('p1.yaml', 'version: 1\nruntime: runsc\nenvironment: { cpus: 2 }\n')]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /^Policy set where there was none:\n {2}\+ environment\.cpus: 2\n {2}\+ runtime: "runsc"\n {2}\+ version: 1\nPolicy set by \S+@\S+ at \d{4}-\d\d-\d\dT[\d:.]+Z \(sha256 [0-9a-f]{12}\)\.\n$/,
    );
    const s1 = await shown();
    expect(s1.policy).toEqual({ version: 1, runtime: 'runsc', environment: { cpus: 2 } });
    expect(s1.setBy).toMatch(/^\S+@\S+$/);
    const text = await run(dir, ['policy', 'show']);
    expect(text.stdout).toContain(`Engine policy, set by ${s1.setBy} at ${s1.setAt} (sha256 ${s1.hash!.slice(0, 12)}):\n\n`);
    expect(text.stdout).toContain('runtime: runsc\n');

    const again = await run(dir, ['policy', 'set', policyFile('p1b.json', '{"version": 1, "environment": {"cpus": 2}, "runtime": "runsc"}')]);
    expect(again.stdout).toBe(`The engine's policy is already ${join(dir.dir, 'p1b.json')} (sha256 ${s1.hash!.slice(0, 12)}); nothing changed.\n`);

    const bad = await run(dir, ['policy', 'set', policyFile('bad.yaml', 'version: 1\nruntime: kata\nenvironment:\n  cpu: 2\n')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`^${join(dir.dir, 'bad.yaml').replace(/[.]/g, '\\.')}:2:10: error: .*runtime`, 'm'));
    expect(bad.stderr).toMatch(/bad\.yaml:4:3: error: .*cpu/);
    expect((await shown()).hash).toBe(s1.hash);

    const second = await run(dir, ['policy', 'set', policyFile('p2.yaml', 'version: 1\nenvironment: { cpus: 4, pids: 100 }\n')]);
    expect(second.stdout).toContain(`Policy changes (from the one ${s1.setBy} set at ${s1.setAt}):\n  ~ environment.cpus: 2 → 4\n  + environment.pids: 100\n  - runtime: "runsc"\n`);
    expect(await records()).toHaveLength(1);

    expect((await run(dir, ['policy', 'clear'])).stdout).toMatch(/^Policy cleared \(it was set by \S+ at \S+\)\.\n$/);
    expect((await shown()).policy).toBeNull();
    expect(await records()).toEqual([]);
    expect((await run(dir, ['policy', 'clear'])).stdout).toBe('No policy is set on this engine; nothing to clear.\n');
  }, 300_000);

  it('a container named like a policy record that we did not make is ignored and never reused', async () => {
    await engine.docker.createContainer({
      name: 'ss._policy.50',
      Image: LOCK_IMAGE,
      Cmd: ['/lock'],
      Labels: {
        'io.sandboxshift.role': 'engine-policy',
        'io.sandboxshift.engine-policy.generation': '60',
        'io.sandboxshift.engine-policy.state': 'set',
        'io.sandboxshift.engine-policy.document': '{"version":1,"runtime":"runc"}',
        'io.sandboxshift.engine-policy.hash': 'forged',
      },
    });
    expect((await shown()).policy).toBeNull();
    const r = await run(dir, ['policy', 'set', policyFile('p3.yaml', 'version: 1\nruntime: runsc\n')]);
    expect(r.code, r.stderr).toBe(0);
    expect((await shown()).policy).toEqual({ version: 1, runtime: 'runsc' });
    expect((await engine.docker.getContainer('ss._policy.50').inspect()).Config.Labels['io.sandboxshift.engine-policy.hash']).toBe('forged');
    await run(dir, ['policy', 'clear']);
    await engine.docker.getContainer('ss._policy.50').remove({ force: true });
  }, 120_000);

  it('validate, plan and apply report every violation at its line, naming the rule; nothing is applied', async () => {
    expect((await run(dir, ['policy', 'set', policyFile('all.yaml', ALL_RULES)])).code).toBe(0);
    const p = project(
      'policy-violations',
      `version: 1
project: {{project}}
images:
  busybox: { ref: ${TEST_IMAGE} }
defaults:
  image: busybox
  resources: { cpus: 0.25, memory: 32m, pids: 32 }
  idle: { stopAfter: 30m }
environments:
  a:
    runtime: runsc
    resources: { cpus: 1, memory: 128m, pids: 128 }
  b:
    egress: { allow: [a.example.org, api.corp.example, b.example.org, c.example.org] }
    idle: { stopAfter: 2h }
  c:
    user: 0
    allowDangerous: [root-user]
    idle: { stopAfter: never }
`,
    );
    const f = 'sandboxshift.yaml';
    const expected = [`${f}:4:18: error: policy rule 'images.allow': image 'busybox' (repository sandboxshift/busybox) is not in the engine's allowed images (sandboxshift/*) (at images.busybox.ref)`];
    void expected;
    const lines = (r: RunResult) => r.stderr.split('\n').filter((l) => l.includes('policy rule'));
    const want = [
      `${f}:11:14: error: policy rule 'runtime': environment 'a' runs under runsc; the engine's policy requires runc (at environments.a.runtime)`,
      `${f}:12:24: error: policy rule 'environment.cpus': environment 'a' asks for 1 CPUs, more than the 0.5 an environment may have (at environments.a.resources.cpus)`,
      `${f}:12:35: error: policy rule 'environment.memory': environment 'a' asks for 128MiB of memory, more than the 64MiB an environment may have (at environments.a.resources.memory)`,
      `${f}:12:47: error: policy rule 'environment.pids': environment 'a' asks for 128 processes, more than the 64 an environment may have (at environments.a.resources.pids)`,
      `${f}:14:15: error: policy rule 'egress.maxEntries': environment 'b' allows 4 egress entries, more than the 3 an allow list may have (at environments.b.egress.allow)`,
      `${f}:14:38: error: policy rule 'egress.deny': environment 'b' allows egress to 'api.corp.example', which reaches '*.corp.example', a host the engine's policy denies to every allow list (at environments.b.egress.allow[1])`,
      `${f}:15:24: error: policy rule 'idle.maxStopAfter': environment 'b' stops after 2h idle, longer than the 1h the engine's policy allows (at environments.b.idle.stopAfter)`,
      `${f}:18:22: error: policy rule 'allowDangerous': environment 'c' uses allowDangerous value 'root-user', which the engine's policy does not permit (permitted: none) (at environments.c.allowDangerous[0])`,
      `${f}:19:24: error: policy rule 'idle.required': environment 'c' never stops when idle; the engine's policy requires an idle.stopAfter (at environments.c.idle.stopAfter)`,
      `${f}:9:1: error: policy rule 'project.environments': project '${p.name}' would have 3 environments, more than the 2 allowed (at environments)`,
      `${f}:9:1: error: policy rule 'project.cpus': project '${p.name}' would have 1.5 CPUs, more than the 1 allowed (at environments)`,
      `${f}:9:1: error: policy rule 'project.memory': project '${p.name}' would have 192MiB of memory, more than the 128MiB allowed (at environments)`,
      `${f}:9:1: error: policy rule 'engine.cpus': the engine would have together 1.5 CPUs, more than the 1 allowed (no other project uses any now; project '${p.name}' wants 1.5) (at environments)`,
    ];
    const validate = await run(p, ['validate']);
    expect(validate.code, validate.stderr).toBe(1);
    expect(lines(validate).sort()).toEqual([...want].sort());
    const plan = await run(p, ['plan']);
    expect(plan.code).toBe(1);
    expect(lines(plan)).toEqual(want);
    const apply = await run(p, ['apply', '--auto-approve']);
    expect(apply.code).toBe(1);
    expect(lines(apply)).toEqual(want);
    expect(await ours(p)).toEqual([]);
    // No config key loosens it: an unknown key is a schema error, not an override.
    expect((await run(p, ['validate', '--no-engine'])).code).toBe(0);
  }, 300_000);

  it('images.allow and digestPinnedOnly refuse an image at its line', async () => {
    expect((await run(dir, ['policy', 'set', policyFile('img.yaml', 'version: 1\nimages: { allow: ["team/**"], digestPinnedOnly: true }\n')])).code).toBe(0);
    const p = project('policy-images', busyboxConfig('  a: {}\n'));
    const r = await run(p, ['plan']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `sandboxshift.yaml:5:19: error: policy rule 'images.allow': image 'busybox' (repository sandboxshift/busybox) is not in the engine's allowed images (team/**) (at images.busybox.ref)\n  hint: use an image whose repository matches one of them, or ask the engine's administrators to change the policy (see \`sandboxshift policy show\`)\n`,
    );
    expect(r.stderr).toContain(`sandboxshift.yaml:5:19: error: policy rule 'images.digestPinnedOnly': image 'busybox' (${TEST_IMAGE}) is not pinned by digest (at images.busybox.ref)\n`);
    await run(dir, ['policy', 'clear']);
  }, 120_000);

  it('two projects applying at once cannot together exceed an engine-wide ceiling: exactly one is refused', async () => {
    expect((await run(dir, ['policy', 'set', policyFile('engine.yaml', 'version: 1\nengine: { cpus: 1 }\n')])).code).toBe(0);
    const one = project('policy-race-a', busyboxConfig('  a: {}\n', '{ cpus: 0.75, memory: 32m, pids: 32 }'));
    const two = project('policy-race-b', busyboxConfig('  a: {}\n', '{ cpus: 0.75, memory: 32m, pids: 32 }'));
    const [r1, r2] = await Promise.all([run(one, ['apply', '--auto-approve']), run(two, ['apply', '--auto-approve'])]);
    const results = [
      { p: one, r: r1, other: two },
      { p: two, r: r2, other: one },
    ];
    const won = results.filter((x) => x.r.code === 0);
    const lost = results.filter((x) => x.r.code !== 0);
    expect(won, r1.stderr + r2.stderr).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const loser = lost[0]!;
    expect(loser.r.code).toBe(1);
    expect(loser.r.stderr).toContain(
      `sandboxshift.yaml:9:1: error: policy rule 'engine.cpus': the engine would have together 1.5 CPUs, more than the 1 allowed (in use now by 1 other project: 0.75; project '${loser.p.name}' wants 0.75) (at environments)`,
    );
    expect(await ours(loser.p)).toEqual([]);
    expect(await ours(won[0]!.p)).toContain(`/ss.${won[0]!.p.name}.a`);
    expect((await engine.docker.listContainers({ all: true, filters: { name: ['^/ss\\._engine\\.lock$'] } })).length).toBe(0);
    await run(won[0]!.p, ['destroy', '--auto-approve']);
    await run(dir, ['policy', 'clear']);
  }, 600_000);

  it('a second apply waits for the engine-wide lock and checks the use the first one left', async () => {
    expect((await run(dir, ['policy', 'set', policyFile('engine2.yaml', 'version: 1\nengine: { environments: 1 }\n')])).code).toBe(0);
    const one = project('policy-wait-a', busyboxConfig('  a: {}\n'));
    const two = project('policy-wait-b', busyboxConfig('  a: {}\n'));
    const release = join(dir.dir, 'release');
    const first = run(one, ['apply', '--auto-approve'], { SANDBOXSHIFT_TEST_PAUSE: 'policy-quota-checked', SANDBOXSHIFT_TEST_RELEASE_FILE: release });
    const lockHeld = async () => (await engine.docker.listContainers({ all: true, filters: { name: ['^/ss\\._engine\\.lock$'] } })).length === 1;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && !(await lockHeld())) await new Promise((r) => setTimeout(r, 50));
    expect(await lockHeld()).toBe(true);
    // The first apply has checked (nothing else on the engine) and holds the lock, its creates not made yet.
    expect(await ours(one)).toEqual([`/ss.${one.name}.lock`]);
    let secondDone = false;
    const second = run(two, ['apply', '--auto-approve']).then((r) => ((secondDone = true), r));
    await new Promise((r) => setTimeout(r, 5000));
    // Its own plan saw an empty engine and passed; under the lock it waits.
    expect(secondDone).toBe(false);
    expect(await ours(two)).toEqual([`/ss.${two.name}.lock`]);
    writeFileSync(release, '');
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(
      `sandboxshift.yaml:9:1: error: policy rule 'engine.environments': the engine would have together 2 environments, more than the 1 allowed (in use now by 1 other project: 1; project '${two.name}' wants 1) (at environments)`,
    );
    expect(r2.stderr).toContain("error: nothing was applied: the config breaks the engine's policy\n");
    expect(await ours(two)).toEqual([]);
    await run(one, ['destroy', '--auto-approve']);
    await run(dir, ['policy', 'clear']);
  }, 300_000);

  // SIGTERM (a cancelled CI job) while the apply holds the engine-wide lock inside its work: the
  // process gives back every lock it holds before it exits, not only its project's; a lock left
  // behind would hold up every other host's apply until someone removed it.
  it('SIGTERM while apply or watch holds the engine-wide lock: both exit with every lock given back', async () => {
    expect((await run(dir, ['policy', 'set', policyFile('engine-sig.yaml', 'version: 1\nengine: { environments: 5 }\n')])).code).toBe(0);
    const engineLock = async () => (await engine.docker.listContainers({ all: true, filters: { name: ['^/ss\\._engine\\.lock$'] } })).length;
    const waitHeld = async () => {
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && (await engineLock()) === 0) await new Promise((r) => setTimeout(r, 50));
      expect(await engineLock()).toBe(1);
    };
    const pause = { SANDBOXSHIFT_TEST_PAUSE: 'policy-quota-checked', SANDBOXSHIFT_TEST_RELEASE_FILE: join(dir.dir, 'never') };

    const applying = project('policy-sig-apply', busyboxConfig('  a: {}\n'));
    const child = spawn(process.execPath, [CLI, 'apply', '--auto-approve'], { cwd: applying.dir, env: { ...process.env, ...env(), ...pause }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitHeld();
    expect(await ours(applying)).toEqual([`/ss.${applying.name}.lock`]);
    child.kill('SIGTERM');
    expect({ code: await exited, stderr }).toEqual({ code: 143, stderr: expect.stringContaining('Terminated (SIGTERM): releasing the lock; run `sandboxshift plan` to see what is left.') });
    expect(await engineLock()).toBe(0);
    expect(await ours(applying)).toEqual([]);

    const watching = project('policy-sig-watch', busyboxConfig('  a: {}\n'));
    const watch = new WatchProcess(watching.dir, [], { ...env(), ...pause });
    await waitHeld();
    const stopped = await watch.stop();
    expect(stopped.code).toBe(0);
    expect(watch.lines.some((l) => l.includes('engine calls still running after 8 s: releasing the lock now'))).toBe(true);
    expect(await engineLock()).toBe(0);
    expect(await ours(watching)).toEqual([]);
    await run(dir, ['policy', 'clear']);
  }, 300_000);

  it('an engine-wide lock left by another host is waited for, named with its ID, and removed by policy unlock', async () => {
    expect((await run(dir, ['policy', 'set', policyFile('engine3.yaml', 'version: 1\nengine: { environments: 5 }\n')])).code).toBe(0);
    await engine.docker.createContainer({
      name: 'ss._engine.lock',
      Image: LOCK_IMAGE,
      Cmd: ['/lock'],
      Labels: {
        'io.sandboxshift.project': '_engine',
        'io.sandboxshift.role': 'lock',
        'io.sandboxshift.lock.id': 'feedbeef',
        'io.sandboxshift.lock.holder': 'other-host',
        'io.sandboxshift.lock.pid': '4242',
        'io.sandboxshift.lock.since': '2026-01-01T00:00:00.000Z',
        'io.sandboxshift.lock.command': 'apply (engine-wide policy check)',
      },
    });
    const p = project('policy-held', busyboxConfig('  a: {}\n'));
    const waited = await run(p, ['apply', '--auto-approve'], { SANDBOXSHIFT_ENGINE_LOCK_WAIT: '2' });
    expect(waited.code).toBe(1);
    expect(waited.stderr).toContain(
      'error: the engine-wide policy lock ss._engine.lock is still held after 2s, by other-host pid 4242 (apply (engine-wide policy check)) since 2026-01-01T00:00:00.000Z, lock ID feedbeef; nothing was applied\n  hint: another project is applying: try again later. If that run is gone, remove the lock with `sandboxshift policy unlock feedbeef`\n',
    );
    expect(await ours(p)).toEqual([]);
    expect((await run(dir, ['policy', 'unlock', 'other'])).stderr).toContain('error: the engine-wide lock has another ID than other; left as it is');
    expect((await run(dir, ['policy', 'unlock', 'feedbeef'])).stdout).toBe('Engine-wide lock feedbeef removed.\n');
    const applied = await run(p, ['apply', '--auto-approve']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(await ours(p)).toEqual([`/ss.${p.name}.a`]);
    await run(p, ['destroy', '--auto-approve']);
    await run(dir, ['policy', 'clear']);
  }, 300_000);

  it('a container under the engine-wide lock name that is not a lock of ours: apply stops at once naming it, policy unlock never removes it', async () => {
    expect((await run(dir, ['policy', 'set', policyFile('engine4.yaml', 'version: 1\nengine: { environments: 5 }\n')])).code).toBe(0);
    // Someone's own container, running: the name only, none of a lock's labels.
    const made = await engine.docker.createContainer({ name: 'ss._engine.lock', Image: TEST_IMAGE, Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'none' } });
    await made.start();
    try {
      const refusal =
        'error: container ss._engine.lock has the name of the engine-wide policy lock but is not a lock sandboxshift made (it lacks the labels io.sandboxshift.project=_engine, io.sandboxshift.role=lock and io.sandboxshift.lock.id); it was left as it is\n' +
        '  hint: sandboxshift does not remove what it did not create: check what it is (docker inspect ss._engine.lock), then rename it (docker rename ss._engine.lock NEW-NAME) or remove it (docker rm ss._engine.lock) yourself, and run the command again\n';
      const p = project('policy-foreign', busyboxConfig('  a: {}\n'));
      // Named at once, not waited for as if another run held it.
      const applied = await run(p, ['apply', '--auto-approve'], { SANDBOXSHIFT_ENGINE_LOCK_WAIT: '5' });
      expect(applied.code).toBe(1);
      expect(applied.stderr).toContain(refusal);
      expect(applied.stderr).not.toContain('still held');
      expect(await ours(p)).toEqual([]);
      for (const id of ['unknown', 'feedbeef']) {
        const unlocked = await run(dir, ['policy', 'unlock', id]);
        expect(unlocked.code).toBe(1);
        expect(unlocked.stderr).toContain(refusal);
      }
      const after = await made.inspect();
      expect([after.Name, after.State.Status]).toEqual(['/ss._engine.lock', 'running']);
    } finally {
      await made.remove({ force: true });
      await run(dir, ['policy', 'clear']);
    }
  }, 120_000);

  it('watch reports the violation in its reconcile and applies nothing; validate says when no engine answered', async () => {
    expect((await run(dir, ['policy', 'set', policyFile('runtime.yaml', 'version: 1\nruntime: runsc\n')])).code).toBe(0);
    const p = project('policy-watch', busyboxConfig('  a: {}\n'));
    const w = new WatchProcess(p.dir, [], env());
    try {
      const i = await w.waitFor('reconcile failed', 0, 120_000);
      expect(w.lines[i]).toContain("reconcile failed: sandboxshift.yaml:10:3: error: policy rule 'runtime': environment 'a' runs under runc; the engine's policy requires runsc (at environments.a)");
    } finally {
      await w.stop();
    }
    expect(await ours(p)).toEqual([]);
    const offline = await p.run(['validate'], { env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
    expect(offline.code).toBe(0);
    expect(offline.stderr).toBe("note: the engine's policy was not checked: cannot reach the Docker engine at DOCKER_HOST=unix:///nonexistent/docker.sock (ENOENT)\n");
    const devZero = await run(dir, ['policy', 'set', '/dev/zero']);
    expect(devZero.stderr).toBe("/dev/zero: error: policy file '/dev/zero' is not a regular file\n  hint: pass the path of a policy file (YAML or JSON), e.g. `sandboxshift policy set policy.yaml`\n");
    expect((await shown()).policy).toEqual({ version: 1, runtime: 'runsc' });
    await run(dir, ['policy', 'clear']);
  }, 300_000);

  /** `policy set FILE` stopped at `point`, SIGKILLed there once `ready()` holds. */
  const killSetAt = async (point: string, file: string | null, ready: () => Promise<boolean>) => {
    const child = spawn(process.execPath, [CLI, 'policy', ...(file ? ['set', file] : ['clear'])], { cwd: dir.dir, env: { ...process.env, ...env(), SANDBOXSHIFT_TEST_PAUSE: point }, stdio: 'ignore' });
    const exited = new Promise((r) => child.on('close', r));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(await ready())) await new Promise((r) => setTimeout(r, 50));
    // Let it reach the pause (the records are read before it).
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGKILL');
    await exited;
  };

  it('SIGKILL during policy set leaves the old policy or the new one, never none; during clear, none', async () => {
    const oldFile = policyFile('old.yaml', 'version: 1\nruntime: runsc\n');
    const newFile = policyFile('new.yaml', 'version: 1\nruntime: runc\n');
    expect((await run(dir, ['policy', 'set', oldFile])).code).toBe(0);
    // Killed before the new record exists: the old policy stands.
    await killSetAt('policy-set-before-create', newFile, async () => true);
    expect((await shown()).policy).toEqual({ version: 1, runtime: 'runsc' });
    // Killed with the new record made and the old one not yet removed: the new one is in force.
    await killSetAt('policy-set-created', newFile, async () => (await records()).length === 2);
    expect(await records()).toHaveLength(2);
    expect((await shown()).policy).toEqual({ version: 1, runtime: 'runc' });
    // The next set tidies both away.
    expect((await run(dir, ['policy', 'set', oldFile])).code).toBe(0);
    expect(await records()).toHaveLength(1);
    expect((await shown()).policy).toEqual({ version: 1, runtime: 'runsc' });
    // A clear killed with its cleared record made and the old one still there: no policy, never the old one back.
    await killSetAt('policy-set-created', null, async () => (await records()).length === 2);
    expect(await records()).toHaveLength(2);
    expect((await shown()).policy).toBeNull();
    expect((await run(dir, ['policy', 'clear'])).stdout).toBe('No policy is set on this engine; nothing to clear.\n');
    expect((await run(dir, ['policy', 'set', newFile])).code).toBe(0);
    expect(await records()).toHaveLength(1);
    expect((await shown()).policy).toEqual({ version: 1, runtime: 'runc' });
    await run(dir, ['policy', 'clear']);
    expect(await records()).toEqual([]);
  }, 300_000);
});
