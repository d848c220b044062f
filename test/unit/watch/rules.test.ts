// The watcher's pure rules, with fake clocks: backoff, debouncing and coalescing of triggers,
// the mass-delete rule, the data-effect filter, and which engine events are drift.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bareChange, type Change, type Plan } from '../../../src/plan/types.js';
import { Backoff, Coalescer, Debouncer, driftOf, formatDelay, isMassDelete, selectChanges, type TriggerHint } from '../../../src/watch/index.js';

function planOf(changes: Change[]): Plan {
  return { project: 'p', mode: 'normal', changes, diagnostics: [], targets: [], sourceHash: 'x', observedFingerprint: 'y', engineVersion: '20.10' };
}

const keep = (name: string) => bareChange({ address: `environment.${name}`, type: 'environment', name, kind: 'no-op', reasons: [], steps: [] });
const create = (name: string, dependsOn: string[] = []) =>
  bareChange({ address: `environment.${name}`, type: 'environment', name, kind: 'create', reasons: [{ code: 'new', message: 'new' }], steps: ['create-container', 'start'], dependsOn });
const removed = (name: string) =>
  bareChange({
    address: `environment.${name}`,
    type: 'environment',
    name,
    kind: 'delete',
    reasons: [{ code: 'removed_from_config', message: 'environment removed from config' }],
    steps: ['remove-container'],
    dataEffect: 'delete-keeps-workspace',
  });

describe('Backoff', () => {
  it('doubles from 1 s up to the 5 min cap, and a success forgets', () => {
    const b = new Backoff();
    const delays = Array.from({ length: 12 }, () => b.fail('environment.a', 0));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000]);
    b.succeed('environment.a');
    expect(b.fail('environment.a', 0)).toBe(1_000);
    b.fail('environment.b', 0);
    b.reset();
    expect([b.waiting('environment.a', 1), b.waiting('environment.b', 1)]).toEqual([false, false]);
  });

  it('says who waits and until when, per key', () => {
    const b = new Backoff();
    b.fail('environment.a', 10_000);
    b.fail('environment.a', 10_000); // 2 s from 10 s
    b.fail('environment.b', 10_500); // 1 s from 10.5 s
    expect(b.waiting('environment.a', 11_000)).toBe(true);
    expect(b.waiting('environment.a', 12_000)).toBe(false);
    expect(b.waiting('environment.c', 0)).toBe(false);
    expect(b.remaining('environment.a', 11_500)).toBe(500);
    expect(b.nextRetryAt(10_600)).toBe(11_500);
    expect(b.nextRetryAt(12_000)).toBeNull();
  });

  it('formats delays for log lines', () => {
    expect([formatDelay(500), formatDelay(2_000), formatDelay(300_000)]).toEqual(['500ms', '2s', '5m']);
  });
});

describe('Debouncer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('turns a burst of writes into one call after 150 ms of quiet, with each path once', () => {
    const fired: string[][] = [];
    const d = new Debouncer<string>(150, (items) => fired.push(items));
    d.push('a.yaml');
    vi.advanceTimersByTime(100);
    d.push('a.yaml');
    d.push('key.txt');
    vi.advanceTimersByTime(149);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([['a.yaml', 'key.txt']]);
    d.push('a.yaml');
    d.cancel();
    vi.advanceTimersByTime(1_000);
    expect(fired).toHaveLength(1);
  });
});

describe('Coalescer', () => {
  it('runs one reconcile at a time; triggers during one become exactly one more run', async () => {
    const runs: string[][] = [];
    let release: () => void = () => {};
    const c = new Coalescer(async (hints: TriggerHint[]) => {
      runs.push(hints.map((h) => h.kind));
      if (runs.length === 1) await new Promise<void>((r) => (release = r));
    });
    c.request({ kind: 'start' });
    expect(c.running).toBe(true);
    c.request({ kind: 'config' });
    c.request({ kind: 'engine', detail: 'a:die' });
    c.request({ kind: 'config' });
    await Promise.resolve();
    expect(runs).toEqual([['start']]);
    release();
    await c.settled();
    expect(runs).toEqual([['start'], ['config', 'engine']]);
    expect(c.running).toBe(false);
  });

  it('drops what is pending on close, and lets the running one finish', async () => {
    const runs: string[] = [];
    let release: () => void = () => {};
    const c = new Coalescer(async (hints: TriggerHint[]) => {
      runs.push(hints[0]!.kind);
      await new Promise<void>((r) => (release = r));
    });
    c.request({ kind: 'start' });
    c.request({ kind: 'config' });
    const closed = c.close();
    release();
    await closed;
    expect(runs).toEqual(['start']);
  });

  it('starts nothing after close', async () => {
    const runs: number[] = [];
    const c = new Coalescer(async () => {
      runs.push(1);
    });
    await c.close();
    c.request({ kind: 'resync' });
    await c.close();
    expect(runs).toEqual([]);
  });
});

describe('mass-delete rule', () => {
  it('is more than half, strictly', () => {
    expect([isMassDelete(3, 4), isMassDelete(2, 4), isMassDelete(1, 1), isMassDelete(0, 0), isMassDelete(2, 3)]).toEqual([true, false, true, false, true]);
  });

  it('holds back the deletes of 3 of 4 environments and applies the rest', () => {
    const plan = planOf([keep('a'), removed('b'), removed('c'), removed('d'), create('e')]);
    const s = selectChanges(plan, { allowMassDelete: false, backoff: new Backoff(), now: 0 });
    expect(s.apply.map((c) => c.address)).toEqual(['environment.e']);
    expect(s.held.map((h) => [h.address, h.rule])).toEqual([
      ['environment.b', 'mass-delete'],
      ['environment.c', 'mass-delete'],
      ['environment.d', 'mass-delete'],
    ]);
    // e is new: of the 4 environments on the engine, 3 are deleted.
    expect(s.massDelete).toEqual({ deleting: 3, of: 4 });
    expect(s.held[0]!.reason).toContain('deletes 3 of 4 environments at once (more than half)');
  });

  it('counts only the environments the engine has: renaming every one, or adding as many new ones, is still held back', () => {
    const renamed = planOf([removed('a'), removed('b'), create('c'), create('d')]);
    const s = selectChanges(renamed, { allowMassDelete: false, backoff: new Backoff(), now: 0 });
    expect(s.massDelete).toEqual({ deleting: 2, of: 2 });
    expect(s.apply.map((c) => c.address)).toEqual(['environment.c', 'environment.d']);
    expect(s.held.map((h) => [h.address, h.rule])).toEqual([
      ['environment.a', 'mass-delete'],
      ['environment.b', 'mass-delete'],
    ]);
    const padded = planOf([removed('a'), create('x'), create('y'), create('z')]);
    expect(selectChanges(padded, { allowMassDelete: false, backoff: new Backoff(), now: 0 }).held.map((h) => h.address)).toEqual(['environment.a']);
  });

  it('lets them through with --allow-mass-delete, and half is not more than half', () => {
    const mass = planOf([keep('a'), removed('b'), removed('c'), removed('d')]);
    expect(selectChanges(mass, { allowMassDelete: true, backoff: new Backoff(), now: 0 }).apply.map((c) => c.address)).toEqual(['environment.b', 'environment.c', 'environment.d']);
    const half = planOf([keep('a'), keep('b'), removed('c'), removed('d')]);
    const s = selectChanges(half, { allowMassDelete: false, backoff: new Backoff(), now: 0 });
    expect(s.held).toEqual([]);
    expect(s.massDelete).toBeNull();
  });
});

describe('data-effect filter', () => {
  it('never applies a change that destroys a workspace, and holds what depends on it', () => {
    const purge = { ...create('a'), kind: 'replace' as const, dataEffect: 'destroys-workspace' as const };
    const plan = planOf([purge, create('b', ['environment.a']), create('c')]);
    const s = selectChanges(plan, { allowMassDelete: true, backoff: new Backoff(), now: 0 });
    expect(s.apply.map((c) => c.address)).toEqual(['environment.c']);
    expect(s.held).toEqual([
      { address: 'environment.a', rule: 'destroys-workspace', reason: expect.stringContaining('would delete its /workspace (data: destroys-workspace)') },
      { address: 'environment.b', rule: 'depends-on-held', reason: 'environment.b depends on environment.a, which is held back' },
    ]);
  });
});

describe('per-change backoff in the selection', () => {
  it('leaves a failing environment out until its retry time, without holding up the others', () => {
    const backoff = new Backoff();
    backoff.fail('environment.a', 0);
    backoff.fail('environment.a', 0); // next try at 2 s
    const plan = planOf([create('a'), create('b')]);
    const early = selectChanges(plan, { allowMassDelete: false, backoff, now: 1_500 });
    expect(early.apply.map((c) => c.address)).toEqual(['environment.b']);
    expect(early.held).toEqual([{ address: 'environment.a', rule: 'backoff', reason: 'environment.a failed 2 time(s); next try in 1s' }]);
    expect(selectChanges(plan, { allowMassDelete: false, backoff, now: 2_000 }).apply.map((c) => c.address)).toEqual(['environment.a', 'environment.b']);
  });
});

describe('engine events as drift', () => {
  const container = (action: string, labels: Record<string, string>) => ({ Type: 'container', Action: action, Actor: { ID: 'abc', Attributes: { name: 'x', ...labels } } });
  const env = { 'io.sandboxshift.project': 'p', 'io.sandboxshift.role': 'environment', 'io.sandboxshift.environment': 'a' };

  it("names what happened to the project's environments and proxies", () => {
    expect(driftOf(container('stop', env), 'p')).toEqual({ what: 'container stopped', environment: 'a' });
    expect(driftOf(container('destroy', env), 'p')).toEqual({ what: 'container removed', environment: 'a' });
    expect(driftOf(container('oom', env), 'p')).toEqual({ what: 'container ran out of memory', environment: 'a' });
    expect(driftOf(container('die', { ...env, 'io.sandboxshift.role': 'egress' }), 'p')).toEqual({ what: 'egress proxy exited', environment: 'a' });
    expect(driftOf({ Type: 'network', Action: 'disconnect', Actor: { ID: 'n1', Attributes: { name: 'ss.p.a.net', container: 'abc' } } }, 'p')).toEqual({
      what: 'disconnected from network ss.p.a.net',
      environment: 'a',
    });
    expect(driftOf({ Type: 'volume', Action: 'destroy', Actor: { ID: 'ss.p.a.workspace' } }, 'p')).toEqual({ what: 'volume ss.p.a.workspace removed', environment: 'a' });
  });

  it('ignores other projects, the lock and records, and actions that are not drift', () => {
    expect(driftOf(container('stop', { ...env, 'io.sandboxshift.project': 'other' }), 'p')).toBeNull();
    expect(driftOf(container('destroy', { ...env, 'io.sandboxshift.role': 'lock' }), 'p')).toBeNull();
    expect(driftOf(container('destroy', { ...env, 'io.sandboxshift.role': 'protect' }), 'p')).toBeNull();
    expect(driftOf(container('start', env), 'p')).toBeNull();
    expect(driftOf({ Type: 'network', Action: 'disconnect', Actor: { ID: 'n2', Attributes: { name: 'ss.pq.a.net' } } }, 'p')).toBeNull();
    expect(driftOf({ Type: 'volume', Action: 'destroy', Actor: { ID: 'ss.other.a.workspace' } }, 'p')).toBeNull();
  });
});
