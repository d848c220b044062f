// `watch`, idle policies, rename and a workspace seeded from git against Podman's Docker-compatible API, in every `npm test`
// (like podman.test.ts: not behind a variable; fails loudly when Podman is not set up). Podman's
// event stream names events otherwise (`died`, `remove`, `exec`, no `stop`), answers a taken
// name with a 500, and keeps container cgroups under libpod_parent: README "Podman".
import './use-podman.js';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, type HeldLock } from '../../src/engine/lock.js';
import { sleep, WatchProcess } from './watch-process.js';
import {
  busyboxConfig,
  containerOf,
  containerState,
  dockerCli,
  execIn,
  gitSeedRepo,
  lockReleased,
  podman,
  readWorkspaceFile,
  requirePodman,
  testProject,
  volumeOf,
  type TestProject,
} from './harness.js';

const envs = (...names: string[]) => names.map((n) => `  ${n}: { command: "while true; do sleep 1; done" }\n`).join('');

/** The project's lock, taken as another run would, once the watcher's own reconciles let go of it. */
async function lockAs(project: string, command: string): Promise<HeldLock> {
  for (let i = 0; ; i++) {
    await lockReleased(project);
    try {
      return await acquireLock(podman, project, command);
    } catch (err) {
      if (i === 50 || !String((err as Error).message).includes('is locked')) throw err;
    }
  }
}

async function running(project: string, env: string): Promise<void> {
  for (let i = 0; i < 100 && (await containerState(project, env)) !== 'running'; i++) await sleep(100);
  expect(await containerState(project, env)).toBe('running');
}

beforeAll(requirePodman);

describe('Podman: watch reconciles config edits and repairs drift from the event stream', () => {
  let p: TestProject;
  let w: WatchProcess;
  beforeAll(async () => {
    p = testProject('podman-watch', busyboxConfig(envs('a')));
    w = new WatchProcess(p.dir, []);
    await w.waitFor(/applied 1 change in \d+ ms$/);
  });
  afterAll(async () => {
    if (w?.running) await w.stop();
    await p?.cleanup();
  });

  it('an edited config converges: the new environment appears', async () => {
    const m = w.mark();
    p.write(busyboxConfig(envs('a', 'b')));
    await w.waitFor(/reconcile start trigger=config \(sandboxshift\.yaml\)$/, m);
    await w.waitFor(/applied environment\.b: create \(new environment\) in \d+ ms$/, m);
    expect(await containerState(p.name, 'b')).toBe('running');
  });

  it("a docker stop is drift (Podman's `die`; its `stop` event is not sent every time) and is started again", async () => {
    const m = w.mark();
    await dockerCli(['stop', '-t', '1', containerOf(p.name, 'a')]);
    await w.waitFor('drift: container exited (environment.a)', m);
    // Its `stop` event comes only sometimes (and then also says `drift: container stopped`).
    await w.waitFor(/reconcile start trigger=engine \(.*a:die.*\)$/, m);
    await w.waitFor(/applied environment\.a: start \(stopped outside sandboxshift .*\) in \d+ ms$/, m);
    await running(p.name, 'a');
  });

  it("a docker rm -f is drift (Podman's `remove`, Docker's `destroy`) and is made again, /workspace kept", async () => {
    await execIn(containerOf(p.name, 'b'), ['sh', '-c', 'echo kept > /workspace/notes.txt']);
    const m = w.mark();
    await dockerCli(['rm', '-f', containerOf(p.name, 'b')]);
    await w.waitFor('drift: container removed (environment.b)', m);
    await w.waitFor(/applied environment\.b: create \(missing: .*its \/workspace volume is reused\) in \d+ ms$/, m);
    await running(p.name, 'b');
    expect(await readWorkspaceFile(containerOf(p.name, 'b'), 'notes.txt')).toBe('kept\n');
    expect(w.stderr).toBe('');
  });

  it('a lock held by another run: it waits, saying who holds it (Podman answers a taken name with a 500), then converges', async () => {
    const held = await lockAs(p.name, 'apply (podman test)');
    try {
      const m = w.mark();
      p.write(busyboxConfig(envs('a', 'b', 'c')));
      const i = await w.waitFor(/lock held by .* pid \d+ \(apply \(podman test\)\) since .*: waiting, retry in 1s$/, m);
      expect(w.lines.slice(m).join('\n')).not.toContain('already in use');
      expect(await containerState(p.name, 'c')).toBeNull();
      await held.release();
      await w.waitFor(/applied environment\.c: create \(new environment\) in \d+ ms$/, i);
    } finally {
      await held.release();
    }
    expect(await containerState(p.name, 'c')).toBe('running');
  });
});

describe('Podman: idle policies', () => {
  let p: TestProject;
  let w: WatchProcess;
  let execAt = 0;
  beforeAll(async () => {
    p = testProject(
      'podman-idle',
      busyboxConfig(`
  sleepy:
    idle: { stopAfter: 3s }
    command: "trap 'echo term > /workspace/term; exit 0' TERM; while true; do sleep 1; done"
  frozen:
    idle: { stopAfter: 3s, action: pause }
    command: "while true; do sleep 1; done"
  poked:
    idle: { stopAfter: 4s }
    command: "while true; do sleep 1; done"
`),
    );
    w = new WatchProcess(p.dir, ['--log-format', 'json']);
    await w.waitFor('"event":"applied"');
    // One short exec, most often over before any sample sees it running: then only Podman's `exec` event tells.
    await sleep(1_500);
    await new Promise<void>((resolve, reject) =>
      spawn('docker', ['exec', containerOf(p.name, 'poked'), 'true'], { stdio: 'ignore' })
        .once('exit', () => resolve())
        .once('error', reject),
    );
    execAt = Date.now();
  });
  afterAll(async () => {
    if (w?.running) await w.stop();
    await p?.cleanup();
  });

  const idleStopAt = (env: string) => w.waitFor(new RegExp(`"event":"idle-stop".*"environment":"${env}"`), 0, 30_000);
  const idleStop = async (env: string) => JSON.parse(w.lines[await idleStopAt(env)]!) as Record<string, string | number>;

  it('stops an idle environment after its deadline, SIGTERM first, and it is not drift', async () => {
    const stop = await idleStop('sleepy');
    expect(stop.action).toBe('stop');
    const info = await podman.getContainer(containerOf(p.name, 'sleepy')).inspect();
    expect(info.State.Status).toBe('exited');
    expect(info.State.ExitCode).toBe(0);
    const finished = Date.parse(info.State.FinishedAt);
    expect(finished).toBeGreaterThanOrEqual(Date.parse(stop.deadline as string));
    expect(finished - Date.parse(stop.deadline as string)).toBeLessThan(10_000);
    expect(Date.parse(stop.deadline as string) - Date.parse(info.State.StartedAt)).toBeGreaterThanOrEqual(3_000 - 1_000);
    expect((await readWorkspaceFile(containerOf(p.name, 'sleepy'), 'term')).trim()).toBe('term');
    expect(w.lines.filter((l) => l.includes('"event":"drift"') && l.includes('"environment":"sleepy"'))).toEqual([]);
    const plan = await p.run(['plan', '--detailed-exitcode']);
    expect(plan.stdout).toMatch(/environment\.sleepy is stopped \(idle since \S+Z, by policy\); sandboxshift wake sleepy starts it/);
    expect(plan.code).toBe(0);
  });

  it('a short exec restarts the clock', async () => {
    const stop = await idleStop('poked');
    // exec-start: Podman's `exec` event, read as Docker's exec_start; exec: a sample saw it still running.
    expect(['exec-start', 'exec']).toContain(stop.signal);
    expect(Date.parse(stop.lastActivity as string)).toBeGreaterThanOrEqual(execAt - 1_500);
    const finished = Date.parse((await podman.getContainer(containerOf(p.name, 'poked')).inspect()).State.FinishedAt);
    expect(finished).toBeGreaterThanOrEqual(execAt - 1_000 + 4_000);
  });

  it('action pause pauses it (cgroup v1 freezer here), and wake resumes it', async () => {
    const stop = await idleStop('frozen');
    expect(stop.action).toBe('pause');
    expect(await containerState(p.name, 'frozen')).toBe('paused');
    // Its own pause event makes the watcher reconcile under the lock (a second or two on Podman): wake waits for that.
    const r = await p.run(['wake', 'frozen']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^environment\.frozen unpaused in \d+ ms\.\n$/);
    expect(await containerState(p.name, 'frozen')).toBe('running');
  });

  it("wake waits for a watcher's lock (a reconcile), not for an apply's", async () => {
    const apply = await lockAs(p.name, 'apply (podman test)');
    try {
      const refused = await p.run(['wake', 'sleepy']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`project '${p.name}' is locked: another apply is running on this engine (held by `);
    } finally {
      await apply.release();
    }
    const watch = await lockAs(p.name, 'watch');
    const waking = p.run(['wake', 'sleepy']);
    await sleep(1_500);
    expect(await containerState(p.name, 'sleepy')).toBe('exited');
    await watch.release();
    const woke = await waking;
    expect(woke.stderr).toBe('');
    expect(woke.stdout).toMatch(/^environment\.sleepy started in \d+ ms\.\n$/);
    expect(await containerState(p.name, 'sleepy')).toBe('running');
  });
});

describe('Podman: a container renamed outside sandboxshift', () => {
  let p: TestProject;
  beforeAll(async () => {
    p = testProject('podman-rename', busyboxConfig(envs('one')));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
  afterAll(async () => {
    await p?.cleanup();
  });

  it('is renamed back in place: the same container, /workspace kept', async () => {
    const name = containerOf(p.name, 'one');
    await execIn(name, ['sh', '-c', 'echo precious > /workspace/notes.txt']);
    const id = (await podman.getContainer(name).inspect()).Id;
    const moved = `${p.name}-moved`;
    await dockerCli(['rename', name, moved]);
    const planned = await p.run(['plan', '--detailed-exitcode']);
    expect(planned.code, planned.stderr).toBe(2);
    expect(planned.stdout).toContain('~ environment.one will be updated in place');
    expect(planned.stdout).toContain(`renamed outside sandboxshift to ${moved}`);
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toContain('Apply complete! Resources: 0 added, 1 changed, 0 destroyed.');
    const after = await podman.getContainer(name).inspect();
    expect(after.Id).toBe(id);
    expect(after.State.Status).toBe('running');
    expect(after.Mounts.find((m) => m.Destination === '/workspace')?.Name).toBe(volumeOf(p.name, 'one'));
    expect(await execIn(name, ['cat', '/workspace/notes.txt'])).toBe('precious\n');
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
  });
});

describe('Podman: a workspace seeded from git', () => {
  let p: TestProject;
  afterAll(async () => {
    await p?.cleanup();
  });

  it('is cloned at the ref into the new volume, owned by the user', async () => {
    p = testProject('podman-seed', busyboxConfig('  js: { command: "sleep 100000", workspace: { git: { url: ./repo.git, ref: v1 } } }\n'));
    gitSeedRepo(p.dir, { 'index.js': 'console.log(1)\n' }, { 'index.js': 'console.log(2)\n' });
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const js = containerOf(p.name, 'js');
    expect(await execIn(js, ['cat', '/workspace/index.js'])).toBe('console.log(1)\n');
    expect(await execIn(js, ['stat', '-c', '%u:%g', '/workspace/index.js', '/workspace/.git'])).toBe('65532:65532\n65532:65532\n');
  });
});
