// `sandboxshift watch` on the real engine: the built CLI runs as a child process per describe;
// its stdout lines are what a person (or, with --log-format json, a machine) reads.
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, type HeldLock } from '../../src/engine/lock.js';
import { sleep, WatchProcess } from './watch-process.js';
import { busyboxConfig, containerOf, containerState, docker, dockerCli, execIn, lockPresent, testProject, TESTS_ON_PODMAN, type TestProject } from './harness.js';

async function waitUntil<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

const envs = (...names: string[]) => names.map((n) => `  ${n}: {}\n`).join('');

describe('watch: config edits, invalid edits, drift and SIGTERM', () => {
  let p: TestProject;
  let w: WatchProcess;
  beforeAll(async () => {
    p = testProject('watch', busyboxConfig(envs('a')));
    w = new WatchProcess(p.dir, []);
    await w.waitFor(/applied 1 change in \d+ ms/);
  });
  afterAll(async () => {
    if (w?.running) await w.stop();
    await p?.cleanup();
  });

  it('starts with a line that says what it watches, and converges at once', async () => {
    expect(w.lines[0]).toMatch(new RegExp(`watching ${p.file}: the config and the files it reads, engine events, full resync every 3600s$`));
    expect(w.lines[1]).toMatch(/reconcile start trigger=start$/);
    expect(await containerState(p.name, 'a')).toBe('running');
  });

  it('an edited config converges: the new environment appears', async () => {
    const m = w.mark();
    p.write(busyboxConfig(envs('a', 'b')));
    await w.waitFor(/reconcile start trigger=config \(sandboxshift\.yaml\)$/, m);
    const done = await w.waitFor(/applied environment\.b: create \(new environment\) in \d+ ms$/, m);
    await w.waitFor(/applied 1 change in \d+ ms$/, done);
    expect(await containerState(p.name, 'b')).toBe('running');
  });

  it('an invalid edit changes nothing and is reported with its line and column; the next valid edit converges', async () => {
    const m = w.mark();
    p.write(busyboxConfig(`${envs('a', 'b')}  c: { resources: { cpus: nope } }\n`));
    const i = await w.waitFor(`invalid config: ${p.file}:12:27: error: expected a number, got 'nope' (at environments.c.resources.cpus)`, m);
    await w.waitFor('nothing changed: the last good config stays in force until the next valid edit', i);
    await sleep(500);
    expect(w.lines.slice(i).filter((l) => l.includes('applied'))).toEqual([]);
    expect(await containerState(p.name, 'c')).toBeNull();
    const n = w.mark();
    p.write(busyboxConfig(envs('a', 'b', 'c')));
    await w.waitFor(/applied environment\.c: create \(new environment\) in \d+ ms$/, n);
    expect(await containerState(p.name, 'c')).toBe('running');
  });

  it('repairs an environment removed behind its back (docker rm -f)', async () => {
    const m = w.mark();
    await dockerCli(['rm', '-f', containerOf(p.name, 'a')]);
    await w.waitFor('drift: container removed (environment.a)', m);
    await w.waitFor(/applied environment\.a: create \(.*\) in \d+ ms$/, m);
    await waitUntil(
      'environment a',
      () => containerState(p.name, 'a'),
      (s) => s === 'running',
    );
  });

  it('starts an environment stopped behind its back (docker stop)', async () => {
    const m = w.mark();
    await dockerCli(['stop', '-t', '1', containerOf(p.name, 'b')]);
    // Podman sends its `stop` event only sometimes, the `die` always (README "Podman").
    await w.waitFor(`drift: container ${TESTS_ON_PODMAN ? 'exited' : 'stopped'} (environment.b)`, m);
    await w.waitFor(/applied environment\.b: start \(.*\) in \d+ ms$/, m);
    await waitUntil(
      'environment b',
      () => containerState(p.name, 'b'),
      (s) => s === 'running',
    );
  });

  it('SIGTERM during a reconcile: exits 0 within 10 s and leaves no lock', async () => {
    const m = w.mark();
    p.write(busyboxConfig(envs('a', 'b', 'c', 'd', 'e')));
    await w.waitFor('reconcile start trigger=config', m);
    const { code, ms } = await w.stop();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(10_000);
    expect(w.lines.slice(m).some((l) => l.endsWith('stopping (SIGTERM): finishing engine calls in flight, then releasing the lock'))).toBe(true);
    expect(w.lines.at(-1)).toMatch(/ stopped$/);
    expect(await lockPresent(p.name)).toBe(false);
    expect(w.stderr).toBe('');
  });
});

describe('watch: a file the config reads (a secret fromFile)', () => {
  let p: TestProject;
  let w: WatchProcess;
  beforeAll(async () => {
    p = testProject('watchsecret', busyboxConfig('  a: { secrets: { token: { fromFile: ./token.txt } } }\n'));
    writeFileSync(join(p.dir, 'token.txt'), 'first-secret-value');
    w = new WatchProcess(p.dir, []);
    await w.waitFor(/applied 1 change in \d+ ms$/);
  });
  afterAll(async () => {
    if (w?.running) await w.stop();
    await p?.cleanup();
  });

  it('an edited secret file is a trigger; the value never shows', async () => {
    const m = w.mark();
    writeFileSync(join(p.dir, 'token.txt'), 'second-secret-value');
    await w.waitFor(/reconcile start trigger=config \(token\.txt\)$/, m);
    await w.waitFor(/applied environment\.a: replace \(secret token changed \(value hidden\)\) in \d+ ms$/, m);
    expect(await execIn(containerOf(p.name, 'a'), ['cat', '/run/secrets/token'])).toBe('second-secret-value');
    expect(w.lines.filter((l) => l.includes('secret-value'))).toEqual([]);
  });
});

describe('watch: an environment with egress', () => {
  let p: TestProject;
  let w: WatchProcess;
  beforeAll(() => {
    p = testProject('watchnet', busyboxConfig('  a: { egress: { allow: [example.test] } }\n'));
    w = new WatchProcess(p.dir, []);
  });
  afterAll(async () => {
    if (w?.running) await w.stop();
    await p?.cleanup();
  });

  it('is put back on its network (docker network disconnect)', async () => {
    await w.waitFor(/applied \d+ changes? in \d+ ms/);
    const net = `ss.${p.name}.a.net`;
    const m = w.mark();
    await dockerCli(['network', 'disconnect', net, containerOf(p.name, 'a')]);
    // Podman's disconnect event names the container, not the network, and its inspect then shows the mode `bridge` (README "Podman").
    await w.waitFor(TESTS_ON_PODMAN ? `drift: ${containerOf(p.name, 'a')} disconnected from a network (environment.a)` : `drift: disconnected from network ${net} (environment.a)`, m);
    const changed = TESTS_ON_PODMAN ? `network is bridge \\(config: ${net.replaceAll('.', '\\.')}\\)` : `disconnected from ${net.replaceAll('.', '\\.')} .*`;
    await w.waitFor(new RegExp(`applied environment\\.a: replace \\(changed outside sandboxshift: ${changed}\\) in \\d+ ms$`), m);
    const networks = await waitUntil(
      'networks of a',
      async () => Object.keys((await docker.getContainer(containerOf(p.name, 'a')).inspect()).NetworkSettings.Networks ?? {}),
      (n) => n.length > 0,
    );
    expect(networks).toEqual([net]);
  });
});

describe('watch: a lock held by another run (--log-format json)', () => {
  let p: TestProject;
  let w: WatchProcess;
  let held: HeldLock;
  beforeAll(async () => {
    p = testProject('watchlock', busyboxConfig(envs('a')));
    held = await acquireLock(docker, p.name, 'apply (ci runner)');
    w = new WatchProcess(p.dir, ['--log-format', 'json']);
  });
  afterAll(async () => {
    if (w?.running) await w.stop();
    await held?.release();
    await p?.cleanup();
  });

  it('waits, saying who holds it, and converges once it is released', async () => {
    const i = await w.waitFor('"event":"lock-held"');
    const line = JSON.parse(w.lines[i]!) as { msg: string; holder: { pid: number; command: string }; retryMs: number };
    expect(line.msg).toBe(`lock held by ${hostname()} pid ${process.pid} (apply (ci runner)) since ${held.info.since}: waiting, retry in 1s`);
    expect(line.holder).toMatchObject({ pid: process.pid, command: 'apply (ci runner)' });
    expect(line.retryMs).toBe(1_000);
    // Still waiting a few seconds on: retried with a growing delay, nothing created.
    await w.waitFor('retry in 2s', i);
    expect(await containerState(p.name, 'a')).toBeNull();
    expect(w.running).toBe(true);
    await held.release();
    const done = await w.waitFor('"event":"applied"', i, 30_000);
    expect(JSON.parse(w.lines[done]!)).toMatchObject({ event: 'applied', applied: 1, failed: 0, skipped: 0 });
    expect(await containerState(p.name, 'a')).toBe('running');
    for (const l of w.lines) expect(() => JSON.parse(l) as unknown).not.toThrow();
  });
});

describe('watch: a failing environment', () => {
  let p: TestProject;
  let w: WatchProcess;
  let blocker: string;
  beforeAll(async () => {
    p = testProject('watchfail', busyboxConfig(envs('a', 'b')));
    // A container that is not ours holds b's name: creating b fails until it is gone.
    blocker = (await dockerCli(['create', '--name', containerOf(p.name, 'b'), 'sandboxshift/busybox:test', 'true'])).trim();
    w = new WatchProcess(p.dir, []);
  });
  afterAll(async () => {
    if (w?.running) await w.stop();
    await dockerCli(['rm', '-f', blocker]).catch(() => undefined);
    await p?.cleanup();
  });

  it('is retried with a doubling delay without holding up the others, and converges once fixed', async () => {
    const first = await w.waitFor(/failed: environment\.b at create-container: .*already in use.*; retry in 1s$/);
    expect(w.lines.slice(0, first + 2).some((l) => /applied environment\.a: create \(new environment\)/.test(l))).toBe(true);
    expect(await containerState(p.name, 'a')).toBe('running');
    const second = await w.waitFor(/failed: environment\.b at create-container: .*; retry in 2s$/, first + 1);
    expect(w.lines.slice(first, second).join('\n')).toMatch(/reconcile start trigger=retry$/m);
    // No hot loop: one reconcile per retry.
    expect(w.lines.filter((l) => l.includes('reconcile start')).length).toBe(2);
    // Repeated failure is visible in status, from the engine (any machine would see it).
    const failingNow = async () => (JSON.parse((await p.run(['status', '--json'])).stdout) as { failing: Array<{ address: string; count: number; step: string; error: string }> }).failing;
    let failing = await failingNow();
    for (let i = 0; i < 20 && (failing[0]?.count ?? 0) < 2; i++) failing = await failingNow();
    expect(failing).toHaveLength(1);
    expect(failing[0]).toMatchObject({ address: 'environment.b', step: 'create-container' });
    expect(failing[0]!.count).toBeGreaterThanOrEqual(2);
    expect(failing[0]!.error).toMatch(/already in use/);
    const text = await p.run(['status']);
    expect(text.stdout).toMatch(
      /Failing under watch \(retried with backoff\):\n {2}environment\.b: failed [2-9] times in a row since \d\d:\d\d:\d\dZ \(last \d\d:\d\d:\d\dZ\) at create-container: .*already in use/,
    );
    await dockerCli(['rm', '-f', blocker]);
    // Podman's workspace volume is made before the container, so the failed creates left it (README "Podman").
    const why = TESTS_ON_PODMAN ? 'missing: container \\S+ not found \\(removed outside sandboxshift, or destroyed\\); its /workspace volume is reused' : 'new environment';
    await w.waitFor(new RegExp(`applied environment\\.b: create \\(${why}\\) in \\d+ ms$`), second, 10_000);
    expect(await containerState(p.name, 'b')).toBe('running');
    // A success removes the record.
    for (let i = 0; i < 20 && (await failingNow()).length > 0; i++) await new Promise((r) => setTimeout(r, 250));
    expect(await failingNow()).toEqual([]);
  });
});

describe('watch: a config that deletes most environments', () => {
  let p: TestProject;
  let w: WatchProcess;
  beforeAll(async () => {
    p = testProject('watchmass', busyboxConfig(envs('a', 'b', 'c', 'd')));
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code).toBe(0);
    w = new WatchProcess(p.dir, []);
    await w.waitFor(/no changes \(in sync\) in \d+ ms$/);
  });
  afterAll(async () => {
    if (w?.running) await w.stop();
    await p?.cleanup();
  });

  it('holds back deleting 3 of 4 and says so, until --allow-mass-delete', async () => {
    const m = w.mark();
    p.write(busyboxConfig(envs('a')));
    await w.waitFor(
      'held back: the config deletes 3 of 4 environments at once (more than half): environment.b, environment.c, environment.d; restart the watcher with --allow-mass-delete if that is meant',
      m,
    );
    await w.waitFor(/no changes applied \(3 held back\) in \d+ ms$/, m);
    for (const env of ['a', 'b', 'c', 'd']) expect(await containerState(p.name, env)).toBe('running');
    expect((await w.stop()).code).toBe(0);
    w = new WatchProcess(p.dir, ['--allow-mass-delete']);
    await w.waitFor(/applied 3 changes in \d+ ms$/);
    for (const env of ['b', 'c', 'd']) expect(await containerState(p.name, env)).toBeNull();
    expect(await containerState(p.name, 'a')).toBe('running');
  });
});

describe('watch: started on an invalid config', () => {
  let p: TestProject;
  let w: WatchProcess;
  beforeAll(() => {
    p = testProject('watchbad', busyboxConfig('  a: { resources: { memory: lots } }\n'));
    w = new WatchProcess(p.dir, []);
  });
  afterAll(async () => {
    if (w?.running) await w.stop();
    await p?.cleanup();
  });

  it('reports it, does nothing, keeps running, and converges on the first valid edit', async () => {
    const i = await w.waitFor(`invalid config: ${p.file}:10:`);
    expect(w.lines[i]).toContain('(at environments.a.resources.memory)');
    await w.waitFor('no valid config yet: nothing is reconciled until the config is valid', i);
    expect(w.running).toBe(true);
    expect(await containerState(p.name, 'a')).toBeNull();
    const m = w.mark();
    p.write(busyboxConfig(envs('a')));
    await w.waitFor(/applied 1 change in \d+ ms$/, m);
    expect(await containerState(p.name, 'a')).toBe('running');
  });
});

describe('watch: flags', () => {
  it('refuses an unknown log format and a resync that is not a duration, with what to write instead', async () => {
    const p = testProject('watchflags', busyboxConfig(envs('a')));
    try {
      const format = await p.run(['watch', '--log-format', 'xml']);
      expect(format.code).toBe(1);
      expect(format.stderr).toBe("error: watch: --log-format must be 'text' or 'json', got 'xml'\n  hint: use --log-format json for one JSON object per line\n");
      const resync = await p.run(['watch', '--resync', 'often']);
      expect(resync.code).toBe(1);
      expect(resync.stderr).toBe("error: watch: --resync must be a duration of at least 1s, got 'often'\n  hint: e.g. --resync 5m or --resync 30s\n");
      expect(await containerState(p.name, 'a')).toBeNull();
    } finally {
      await p.cleanup();
    }
  });
});
