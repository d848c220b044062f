// The executor runs exactly the plan's steps, in order per change, in parallel across changes,
// and keeps going past a failure. A recording fake stands in for dockerode.
import { describe, expect, it } from 'vitest';
import type { Docker } from '../../../src/engine/index.js';
import { executePlan, REMOVALS_IN_FLIGHT } from '../../../src/apply/executor.js';
import type { ApplyEvent } from '../../../src/apply/events.js';
import { plan, planDestroy } from '../../../src/plan/index.js';
import { applied, desiredOf, env, observedOf } from '../plan/fixtures.js';

function fakeDocker(opts: { failCreate?: string; failStop?: string } = {}) {
  const calls: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const op = async (what: string) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    calls.push(what);
  };
  const container = (id: string) => ({
    start: () => op(`start ${id}`),
    stop: async () => {
      await op(`stop ${id}`);
      if (id === opts.failStop) throw Object.assign(new Error('boom'), { statusCode: 500, json: { message: 'cannot kill container: permission denied' } });
    },
    remove: () => op(`remove ${id}`),
    unpause: () => op(`unpause ${id}`),
    update: (u: { Memory: number }) => op(`update ${id} memory=${u.Memory}`),
    putArchive: (tar: Buffer, o: { path: string }) => op(`putArchive ${id} ${o.path} ${tar.length > 0 ? 'tar' : 'empty'}`),
  });
  const docker = {
    createContainer: async (o: { name: string; Image: string }) => {
      await op(`create ${o.name} ${o.Image}`);
      if (o.name === opts.failCreate) throw Object.assign(new Error('boom'), { json: { message: 'invalid mount config' } });
      return { id: `id-${o.name}` };
    },
    getContainer: container,
    getVolume: (name: string) => ({ remove: () => op(`remove-volume ${name}`) }),
  };
  return { docker: docker as unknown as Docker, calls, maxInFlight: () => maxInFlight };
}

describe('executor', () => {
  it('runs each change\'s steps in order with the engine calls the plan names', async () => {
    const old = desiredOf([env('keep'), env('grow'), env('gone')]);
    const now = desiredOf([
      env('keep', { env: { X: '1' }, secrets: { tok: { fromEnv: 'T' } } }),
      env('grow', { resources: { cpus: 1, memoryBytes: 1024 ** 3, pids: 256 } }),
      env('fresh'),
    ], { T: 'v' });
    const observed = observedOf([...old.environments.values()].map((d) => applied(d, { id: `old-${d.name}` })));
    const p = plan(now, observed);
    const { docker, calls } = fakeDocker();
    const events: ApplyEvent[] = [];
    const result = await executePlan(p, { engine: docker, desired: now, secrets: new Map([['keep', [{ name: 'tok', value: Buffer.from('v') }]]]), parallelism: 1, onEvent: (e) => events.push(e) });
    expect(calls).toEqual([
      'create ss.demo.fresh sandboxshift/busybox:test',
      // A deleted environment's container is stopped and removed from the start of the walk.
      'stop old-gone',
      'start id-ss.demo.fresh',
      'remove old-gone',
      'update old-grow memory=1073741824',
      // A replacement stops only on its turn.
      'stop old-keep',
      'remove old-keep',
      'create ss.demo.keep sandboxshift/busybox:test',
      'putArchive id-ss.demo.keep / tar',
      'start id-ss.demo.keep',
    ]);
    expect(result.failed).toEqual([]);
    expect(result.completed.map((c) => `${c.address}:${c.kind}`)).toEqual([
      'environment.fresh:create',
      'environment.grow:update',
      'environment.keep:replace',
      'environment.gone:delete',
    ]);
    expect(events.filter((e) => e.type === 'change-done')).toHaveLength(4);
  });

  it('keeps going past a failure and reports it with the step', async () => {
    const desired = desiredOf([env('a'), env('bad'), env('c')]);
    const { docker, calls } = fakeDocker({ failCreate: 'ss.demo.bad' });
    const result = await executePlan(plan(desired, observedOf([])), { engine: docker, desired, secrets: new Map(), parallelism: 2 });
    expect(result.failed).toEqual([{ address: 'environment.bad', kind: 'create', step: 'create-container', error: 'invalid mount config' }]);
    expect(result.completed.map((c) => c.address).sort()).toEqual(['environment.a', 'environment.c']);
    expect(calls).not.toContain('start id-ss.demo.bad');
  });

  it('never has more changes in flight than the parallelism', async () => {
    const desired = desiredOf(Array.from({ length: 12 }, (_, i) => env(`e${i}`)));
    const { docker, maxInFlight } = fakeDocker();
    const result = await executePlan(plan(desired, observedOf([])), { engine: docker, desired, secrets: new Map(), parallelism: 3 });
    expect(result.completed).toHaveLength(12);
    expect(maxInFlight()).toBe(3);
  });

  it('stops and removes the containers of every delete at once, whatever the parallelism', async () => {
    const old = desiredOf(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => env(n)));
    const observed = observedOf([...old.environments.values()].map((d) => applied(d, { id: `old-${d.name}` })));
    const { docker, calls, maxInFlight } = fakeDocker();
    const result = await executePlan(planDestroy(old, observed), { engine: docker, desired: old, secrets: new Map(), parallelism: 2 });
    expect(result.completed).toHaveLength(6);
    expect(maxInFlight()).toBe(6);
    expect(calls).toEqual([
      ...['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `stop old-${n}`),
      ...['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `remove old-${n}`),
    ]);
  });

  it('never has more than REMOVALS_IN_FLIGHT container removals under way', async () => {
    const names = Array.from({ length: REMOVALS_IN_FLIGHT + 6 }, (_, i) => `e${i}`);
    const old = desiredOf(names.map((n) => env(n)));
    const observed = observedOf([...old.environments.values()].map((d) => applied(d, { id: `old-${d.name}` })));
    const { docker, calls, maxInFlight } = fakeDocker();
    const result = await executePlan(planDestroy(old, observed), { engine: docker, desired: old, secrets: new Map(), parallelism: 1 });
    expect(result.completed).toHaveLength(names.length);
    expect(maxInFlight()).toBe(REMOVALS_IN_FLIGHT);
    expect(calls.filter((c) => c.startsWith('remove '))).toHaveLength(names.length);
  });

  it('a failed stop fails its delete at remove-container, with the engine\'s message', async () => {
    const old = desiredOf([env('a'), env('b')]);
    const observed = observedOf([...old.environments.values()].map((d) => applied(d, { id: `old-${d.name}` })));
    const { docker, calls } = fakeDocker({ failStop: 'old-a' });
    const result = await executePlan(planDestroy(old, observed), { engine: docker, desired: old, secrets: new Map(), parallelism: 1 });
    expect(result.failed).toEqual([{ address: 'environment.a', kind: 'delete', step: 'remove-container', error: 'cannot kill container: permission denied' }]);
    expect(result.completed.map((c) => c.address)).toEqual(['environment.b']);
    expect(calls).not.toContain('remove old-a');
  });

  it('skips a change whose dependency failed', async () => {
    const desired = desiredOf([env('base'), env('child')]);
    const p = plan(desired, observedOf([]));
    const child = p.changes.find((c) => c.name === 'child')!;
    child.dependsOn = ['environment.base'];
    const { docker, calls } = fakeDocker({ failCreate: 'ss.demo.base' });
    const result = await executePlan(p, { engine: docker, desired, secrets: new Map(), parallelism: 4 });
    expect(result.skipped).toEqual([{ address: 'environment.child', kind: 'create', because: 'depends on environment.base, which failed' }]);
    expect(calls.some((c) => c.includes('child'))).toBe(false);
  });
});
