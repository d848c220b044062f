// An idle record speaks for the policy's own stop only: once the container is started by hand
// and then stopped (or crashes), the stop is drift again, and plan proposes to start it.
// Found by the adversary pass: the record used to resurrect and hide such a stop.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxConfig, CLI, containerOf, containerState, docker, testProject, type TestProject } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a stale idle record', () => {
  let p: TestProject;

  beforeAll(async () => {
    p = testProject('idlestale', busyboxConfig(`  a:\n    idle: { stopAfter: 3s }\n    command: "trap 'exit 0' TERM; while true; do sleep 1; done"\n`));
    const watch = spawn(process.execPath, [CLI, 'watch', '--resync', '1h', '--log-format', 'json'], {
      cwd: p.dir,
      env: { ...process.env, NO_COLOR: '1', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const events: Array<Record<string, unknown>> = [];
    createInterface({ input: watch.stdout }).on('line', (l) => events.push(JSON.parse(l) as Record<string, unknown>));
    const deadline = Date.now() + 90_000;
    while (!events.some((e) => e.event === 'idle-stop' && e.environment === 'a')) {
      if (Date.now() > deadline) throw new Error(`no idle stop; got:\n${events.map((e) => JSON.stringify(e)).join('\n')}`);
      await sleep(200);
    }
    watch.kill('SIGTERM');
    await new Promise((r) => watch.once('exit', r));
  }, 120_000);

  afterAll(async () => {
    await p?.cleanup();
  }, 60_000);

  it('lapses once the container is started by hand: a later stop by hand is drift, not the policy', async () => {
    const idle = await p.run(['plan', '--detailed-exitcode']);
    expect(idle.code).toBe(0);
    expect(idle.stdout).toContain('environment.a is stopped (idle since');

    await docker.getContainer(containerOf(p.name, 'a')).start();
    await sleep(1_100); // a later second than the record's
    await docker.getContainer(containerOf(p.name, 'a')).stop({ t: 1 });
    expect(await containerState(p.name, 'a')).toBe('exited');

    const plan = await p.run(['plan', '--detailed-exitcode']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/> environment\.a will be started\n\s+because:\s+stopped outside sandboxshift \(Exited \(0\)/);
    expect(plan.stdout).not.toContain('by policy');
    const status = JSON.parse((await p.run(['status', '--json'])).stdout) as { environments: Array<{ name: string; state: string }> };
    expect(status.environments.find((e) => e.name === 'a')!.state).toBe('stopped');
  }, 60_000);
});
