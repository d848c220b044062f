// Idle policies on the real engine, through `sandboxshift watch`: an idle environment is stopped
// on time (never before its deadline, at most 10 s after) with SIGTERM first; busy ones (an
// open exec session, a CPU loop, a heartbeat file) are not; `action: pause` pauses and `wake`
// resumes it at once; an idle-stopped environment is not drift for plan, and `wake` starts it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeInternet } from '../support/fake-internet.mjs';
import { busyboxConfig, CLI, containerOf, containerState, docker, readWorkspaceFile, testProject, TESTS_ON_PODMAN, type TestProject } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The watcher with --log-format json: one decision per line. */
class Watch {
  readonly events: Array<Record<string, unknown>> = [];
  private readonly child: ChildProcess;
  stderr = '';
  constructor(p: TestProject) {
    this.child = spawn(process.execPath, [CLI, 'watch', '--resync', '1h', '--log-format', 'json'], {
      cwd: p.dir,
      env: { ...process.env, NO_COLOR: '1', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (l) => this.events.push(JSON.parse(l) as Record<string, unknown>));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }
  async waitFor(pred: (e: Record<string, unknown>) => boolean, what: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.events.find(pred);
      if (e) return e;
      if (Date.now() > deadline) throw new Error(`no ${what} in ${timeoutMs} ms; got:\n${this.events.map((x) => JSON.stringify(x)).join('\n')}\n${this.stderr}`);
      await sleep(100);
    }
  }
  idleStops(env: string): Array<Record<string, unknown>> {
    return this.events.filter((e) => e.event === 'idle-stop' && e.environment === env);
  }
  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await new Promise((r) => this.child.once('exit', r));
  }
}

const policy = (stopAfter: string, extra = '') => `idle: { stopAfter: ${stopAfter}${extra} }`;

describe('idle policies', () => {
  let p: TestProject;
  let w: Watch;
  let execSession: ChildProcess | null = null;
  let execEnded: Promise<number> = Promise.resolve(0);
  let touching: Promise<string[]> = Promise.resolve([]);
  let lastTouch = 0;

  beforeAll(async () => {
    p = testProject(
      'idle',
      busyboxConfig(`
  sleepy:
    ${policy('6s')}
    command: "trap 'echo term > /workspace/term; exit 0' TERM; while true; do sleep 1; done"
  shell:
    ${policy('6s')}
    command: "while true; do sleep 1; done"
  cpu:
    ${policy('6s')}
    command: "while true; do :; done"
  beating:
    ${policy('6s')}
    command: "while true; do touch /workspace/.sandboxshift-heartbeat; sleep 2; done"
  frozen:
    ${policy('6s', ', action: pause')}
    command: "while true; do sleep 1; done"
  forever:
    command: "while true; do sleep 1; done"
  touched:
    ${policy('6s')}
    command: "while true; do sleep 1; done"
`),
    );
    w = new Watch(p);
    await w.waitFor((e) => e.event === 'applied', 'first apply', 120_000);
    // An exec session of 16 s: the environment must outlive it, then be stopped 6 s after it ends.
    execSession = spawn('docker', ['exec', containerOf(p.name, 'shell'), 'sleep', '16'], { stdio: 'ignore' });
    // `sandboxshift touch` from outside every 3 s (started 3 s apart, however long each takes: on a
    // busy machine with Podman one can take seconds), four times: 12 s of life past its 6 s policy.
    touching = (async () => {
      const outputs: string[] = [];
      for (let i = 0; i < 4; i++) {
        const next = Date.now() + 3_000;
        lastTouch = Date.now(); // it records a moment after this
        outputs.push((await p.run(['touch', 'touched'])).stdout);
        await sleep(next - Date.now());
      }
      return outputs;
    })();
    const session = execSession;
    execEnded = new Promise((resolve) => session.once('exit', () => resolve(Date.now())));
  }, 180_000);

  afterAll(async () => {
    execSession?.kill();
    await w?.stop();
    await p?.cleanup();
  }, 60_000);

  it('stops an idle environment on time: never before its deadline, within 10 s after, SIGTERM first', async () => {
    const stop = await w.waitFor((e) => e.event === 'idle-stop' && e.environment === 'sleepy', 'idle stop of sleepy', 40_000);
    expect(stop.action).toBe('stop');
    const info = await docker.getContainer(containerOf(p.name, 'sleepy')).inspect();
    expect(info.State.Status).toBe('exited');
    const deadline = Date.parse(stop.deadline as string);
    const finished = Date.parse(info.State.FinishedAt);
    const started = Date.parse(info.State.StartedAt);
    expect(finished).toBeGreaterThanOrEqual(deadline);
    expect(finished - deadline).toBeLessThan(10_000);
    // Never early: the deadline is at least the policy's 6 s after the container started.
    expect(deadline - started).toBeGreaterThanOrEqual(6_000 - 1_000);
    expect(stop.lateMs as number).toBeGreaterThanOrEqual(0);
    // The trap ran: SIGTERM came first, and its exit code is the trap's own 0, not a kill's 137.
    expect((await readWorkspaceFile(containerOf(p.name, 'sleepy'), 'term')).trim()).toBe('term');
    expect(info.State.ExitCode).toBe(0);
    // Its own stop is not drift: no drift line, and no reconcile started it again.
    expect(w.events.filter((e) => e.event === 'drift' && e.environment === 'sleepy')).toEqual([]);
  }, 60_000);

  it('keeps busy environments running: a CPU loop and a heartbeat file; no policy means never', async () => {
    await w.waitFor((e) => e.event === 'idle-stop' && e.environment === 'sleepy', 'idle stop of sleepy', 40_000);
    await sleep(8_000); // well past every 6 s deadline
    expect(await containerState(p.name, 'cpu')).toBe('running');
    expect(await containerState(p.name, 'beating')).toBe('running');
    expect(await containerState(p.name, 'forever')).toBe('running');
    expect(w.idleStops('cpu')).toEqual([]);
    expect(w.idleStops('beating')).toEqual([]);
  }, 60_000);

  it('an open exec session keeps it alive while open, and only then: stopped 6 s after it ends', async () => {
    const stop = await w.waitFor((e) => e.event === 'idle-stop' && e.environment === 'shell', 'idle stop of shell', 60_000);
    const ended = await execEnded;
    expect(['exec', 'exec-start']).toContain(stop.signal);
    const info = await docker.getContainer(containerOf(p.name, 'shell')).inspect();
    const finished = Date.parse(info.State.FinishedAt);
    // Not while the session ran (16 s, longer than the 6 s policy) ...
    expect(finished).toBeGreaterThan(Date.parse(info.State.StartedAt) + 16_000);
    // ... and its last sign of life is at most one sample (2 s) before the session ended.
    expect(Date.parse(stop.lastActivity as string)).toBeGreaterThan(ended - 3_000);
    // The 6 s run from there: never before, at most 10 s late.
    expect(finished).toBeGreaterThanOrEqual(Date.parse(stop.deadline as string));
    expect(finished - Date.parse(stop.deadline as string)).toBeLessThan(10_000);
  }, 90_000);

  it('sandboxshift touch records activity from outside: the clock starts again at each touch', async () => {
    const outputs = await touching;
    expect(outputs).toHaveLength(4);
    for (const o of outputs) expect(o).toMatch(/^environment\.touched: activity recorded at \d{4}-\d\d-\d\dT[\d:.]+Z\.\n$/);
    const stop = await w.waitFor((e) => e.event === 'idle-stop' && e.environment === 'touched', 'idle stop of touched', 30_000);
    expect(stop.signal).toBe('touch');
    const info = await docker.getContainer(containerOf(p.name, 'touched')).inspect();
    // Alive 9 s after the first touch (longer than its 6 s policy), stopped no sooner than 6 s after the last.
    expect(Date.parse(info.State.FinishedAt)).toBeGreaterThanOrEqual(lastTouch - 1_000 + 6_000);
    expect(Date.parse(info.State.FinishedAt) - Date.parse(stop.deadline as string)).toBeLessThan(10_000);
  }, 60_000);

  it('action pause pauses it, and wake resumes it in well under a second', async () => {
    const stop = await w.waitFor((e) => e.event === 'idle-stop' && e.environment === 'frozen', 'idle pause of frozen', 40_000);
    expect(stop.action).toBe('pause');
    expect(await containerState(p.name, 'frozen')).toBe('paused');
    const t0 = Date.now();
    const r = await p.run(['wake', 'frozen']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^environment\.frozen unpaused in \d+ ms\.\n$/);
    const ms = Number(/in (\d+) ms/.exec(r.stdout)![1]);
    expect(ms).toBeLessThan(500);
    expect(await containerState(p.name, 'frozen')).toBe('running');
    console.log(`wake (unpause) took ${ms} ms inside the CLI, ${Date.now() - t0} ms for the whole command`);
  }, 60_000);

  it('an idle-stopped environment is not drift: plan proposes nothing and says why; status shows it; wake starts it', async () => {
    await w.waitFor((e) => e.event === 'idle-stop' && e.environment === 'sleepy', 'idle stop of sleepy', 40_000);
    const plan = await p.run(['plan', '--detailed-exitcode']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/environment\.sleepy is stopped \(idle since \d{4}-\d\d-\d\dT[\d:.]+Z, by policy\); sandboxshift wake sleepy starts it/);
    const status = JSON.parse((await p.run(['status', '--json'])).stdout) as { environments: Array<{ name: string; state: string; idle?: Record<string, unknown> }> };
    const sleepy = status.environments.find((e) => e.name === 'sleepy')!;
    expect(sleepy.state).toBe('idle-stopped');
    expect(sleepy.idle).toMatchObject({ stop_after_seconds: 6, action: 'stop', idle_since: expect.stringMatching(/Z$/) });
    const beating = status.environments.find((e) => e.name === 'beating')!;
    expect(beating.state).toBe('running');
    expect(beating.idle).toMatchObject({ stop_after_seconds: 6, last_activity: { signal: 'heartbeat' } });
    expect(beating.idle!.idle_for_seconds as number).toBeLessThanOrEqual(4);
    expect(Date.parse(beating.idle!.stops_at as string)).toBeGreaterThan(Date.now());
    expect(status.environments.find((e) => e.name === 'forever')!.idle).toBeUndefined();
    const text = (await p.run(['status'])).stdout;
    expect(text).toMatch(/^sleepy\s+idle-stopped\s+.*\(idle since .*, by policy\)$/m);
    expect(text).toMatch(/^beating\s+running\s+.*heartbeat \S+Z\s+\d+s\s+\S+Z$/m);

    const woke = await p.run(['wake', 'sleepy']);
    expect(woke.stdout).toMatch(/^environment\.sleepy started in \d+ ms\.\n$/);
    expect(await containerState(p.name, 'sleepy')).toBe('running');
    const after = await p.run(['plan', '--detailed-exitcode']);
    expect(after.code).toBe(0);
    expect(after.stdout).not.toContain('environment.sleepy is stopped');
  }, 90_000);

  it('wake and touch refuse an environment the config does not have, naming those it has', async () => {
    const r = await p.run(['touch', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no environment 'nope' in the config");
    expect(r.stderr).toContain('the config has: beating, cpu, forever, frozen, shell, sleepy, touched');
  });
});

describe('idle policies and the egress proxy', () => {
  // A model call that takes 20 s to answer, with nothing else going on: the connection open
  // through the proxy keeps the environment alive (fabro #766), and once it closes the clock runs.
  const tag = randomInt(1e6);
  const internet = `ss-e2e-idle-inet-${tag}`;
  const server = `ss-e2e-idle-slow-${tag}`;
  let p: TestProject;
  let w: Watch;

  beforeAll(async () => {
    await createFakeInternet(docker, internet, { 'io.sandboxshift.test': '1' });
    const slow = await docker.createContainer({
      name: server,
      Image: 'sandboxshift/busybox:test',
      User: '0',
      Cmd: ['sh', '-c', `printf '#!/bin/sh\\nsleep 20\\nprintf "HTTP/1.0 200 OK\\\\r\\\\n\\\\r\\\\nlate\\\\n"\\n' > /tmp/slow; chmod +x /tmp/slow; exec nc -ll -p 80 -e /tmp/slow`],
      HostConfig: { NetworkMode: internet },
      NetworkingConfig: { EndpointsConfig: { [internet]: { Aliases: ['slow.test'] } } },
    });
    await slow.start();
    // Podman's CNI networks have no DNS here (README "Podman"): there the call goes to the server's address.
    const ip = (await slow.inspect()).NetworkSettings.Networks[internet]?.IPAddress;
    const host = TESTS_ON_PODMAN ? ip : 'slow.test';
    // Asks until the proxy can reach the fake internet (each refused try is a request, so activity),
    // then waits on the answer (the request side half-closed, as in egress.test.ts).
    const call = `a=\${HTTP_PROXY#http://}; until printf 'GET http://${host}/ HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n' | nc -w 60 \${a%:*} \${a##*:} > /workspace/answer; grep -q late /workspace/answer; do sleep 1; done; date +%s > /workspace/answered; while true; do sleep 1; done`;
    p = testProject(
      'idle-egress',
      busyboxConfig(`
  caller:
    idle: { stopAfter: 8s }
    egress: { allow: [${TESTS_ON_PODMAN ? `${ip}/32` : 'slow.test'}] }
    command: ${JSON.stringify(call)}
`),
    );
    w = new Watch(p);
    await w.waitFor((e) => e.event === 'applied', 'first apply', 120_000);
    await docker.getNetwork(internet).connect({ Container: `ss.${p.name}.caller.egress` });
  }, 180_000);

  afterAll(async () => {
    await w?.stop();
    await p?.cleanup();
    await docker.getContainer(server).remove({ force: true });
    await docker.getNetwork(internet).remove();
  }, 60_000);

  it('a connection open for longer than stopAfter keeps it running; the clock starts when it closes', async () => {
    const started = Date.parse((await docker.getContainer(containerOf(p.name, 'caller')).inspect()).State.StartedAt);
    await sleep(Math.max(0, started + 16_000 - Date.now()));
    // Twice the policy's 8 s in, the answer still pending: running.
    expect(await containerState(p.name, 'caller')).toBe('running');
    expect(w.idleStops('caller')).toEqual([]);
    const stop = await w.waitFor((e) => e.event === 'idle-stop' && e.environment === 'caller', 'idle stop of caller', 60_000);
    const answered = Number((await readWorkspaceFile(containerOf(p.name, 'caller'), 'answered')).trim()) * 1000;
    expect((await readWorkspaceFile(containerOf(p.name, 'caller'), 'answer')).trim()).toContain('late');
    expect(['connection', 'request']).toContain(stop.signal);
    const finished = Date.parse((await docker.getContainer(containerOf(p.name, 'caller')).inspect()).State.FinishedAt);
    // The answer came at least 20 s after it started; the stop at least 8 s after that (1 s: date's resolution), at most 10 s late.
    expect(answered - started).toBeGreaterThanOrEqual(19_000);
    expect(finished).toBeGreaterThanOrEqual(answered + 8_000 - 1_000);
    expect(finished).toBeGreaterThanOrEqual(Date.parse(stop.deadline as string));
    expect(finished - Date.parse(stop.deadline as string)).toBeLessThan(10_000);
  }, 120_000);
});
