// Issue 10: a running `sandboxshift watch` survives an engine restart. The shared engine is never
// restarted: this file starts a private dockerd in its own network namespace
// (test/e2e/private-engine.ts), points a watcher at it, stops the daemon with SIGTERM and starts
// it again. The watcher must not exit; its event streams (drift, and the idle clock's exec
// sessions) reconnect and say so; a full resync runs once the engine is back; and drift made
// right after the restart is repaired, both while the stream is still away (by the resync) and
// once it is back (by the event).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_IMAGE } from '../../src/engine/lock.js';
import { busyboxConfig, TEST_IMAGE, testProject, type TestProject } from './harness.js';
import { startPrivateEngine, type PrivateEngine } from './private-engine.js';
import { sleep, WatchProcess } from './watch-process.js';

const config = busyboxConfig(`  a: {}
  b: { idle: { stopAfter: 1h } }
`);

describe('watch survives an engine restart (a private engine)', () => {
  let engine: PrivateEngine;
  let p: TestProject;
  let w: WatchProcess | undefined;
  const container = (env: string) => `ss.${p.name}.${env}`;

  /** The container's id once it runs (a new one after a repair), or throws after `timeoutMs`. */
  const runningAgain = async (env: string, notId: string | null, timeoutMs = 60_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await engine.docker
        .getContainer(container(env))
        .inspect()
        .catch(() => null);
      if (info?.State.Running && info.Id !== notId) return info.Id;
      if (Date.now() > deadline) throw new Error(`${container(env)} not running again in ${timeoutMs} ms: ${info ? info.State.Status : 'absent'}\n${w?.lines.join('\n')}`);
      await sleep(200);
    }
  };

  beforeAll(async () => {
    engine = await startPrivateEngine([TEST_IMAGE, LOCK_IMAGE]);
    p = testProject('watch-restart', config);
  }, 600_000);

  afterAll(async () => {
    if (w?.running) await w.stop();
    await engine?.teardown();
    // The project lived on the private engine, gone now; this removes its folder.
    await p?.cleanup();
  });

  it('reconnects both event streams, resyncs, repairs drift made right after the restart, and never exits', async () => {
    w = new WatchProcess(p.dir, [], { DOCKER_HOST: engine.host });
    await w.waitFor(/Z applied 2 changes/, 0, 120_000);
    const a0 = await runningAgain('a', null);
    await runningAgain('b', null);

    let from = w.mark();
    await engine.stop();
    const lostAt = await w.waitFor(/Z engine events: disconnected \(.+\); reconnecting in \d/, from);
    await w.waitFor(/Z idle: exec events lost \(.+\); reconnecting in \d.*running sessions are still seen at each sample/, from);
    expect(w.running, 'the watcher is still running with the engine down').toBe(true);

    await engine.start();
    // Drift made while the watcher's stream is still away: no event will ever say so.
    await engine.cli(['rm', '-f', container('a')]);
    const backAt = await w.waitFor('engine events: connected again; full resync', lostAt, 90_000);
    await w.waitFor('idle: exec events connected again', lostAt, 90_000);
    const resyncAt = await w.waitFor(/Z reconcile start trigger=(.*,)?resync/, backAt);
    const a1 = await runningAgain('a', a0);
    expect(a1).not.toBe(a0);
    await w.waitFor(/Z applied environment\.a: (create|replace)/, resyncAt);

    // Once back, the stream itself sees drift again.
    await w.waitFor(/Z (no changes|applied \d+ change)/, resyncAt);
    from = w.mark();
    await engine.cli(['rm', '-f', container('a')]);
    await w.waitFor('drift: container removed (environment.a)', from, 30_000);
    await w.waitFor(/Z reconcile start trigger=engine/, from);
    await w.waitFor(/Z applied environment\.a: create/, from);
    const a2 = await runningAgain('a', a1);
    expect(a2).not.toBe(a1);

    // Both came back, and the plan from the engine alone is empty.
    await runningAgain('b', null);
    await w.waitFor(/Z applied \d+ change/, from);
    const plan = await p.run(['plan', '--detailed-exitcode'], { env: { DOCKER_HOST: engine.host } });
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);

    expect(w.running, `the watcher exited:\n${w.lines.join('\n')}\n${w.stderr}`).toBe(true);
    expect((await w.stop()).code).toBe(0);
  }, 300_000);
});
