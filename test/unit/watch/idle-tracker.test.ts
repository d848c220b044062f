// The idle tracker with a fake clock: which signal was last, when, and the deadline. Anchors:
// a long model call (an open connection, nothing else) keeps its sandbox alive (fabro #766);
// an open connection counts only while open, and nothing else counts forever (coder #12012).
import { describe, expect, it } from 'vitest';
import type { ActivitySample } from '../../../src/engine/idle-signals.js';
import { cpuPercent, IdleTracker, nextCheck } from '../../../src/watch/idle-tracker.js';

const MIN = 60_000;
const T0 = Date.parse('2026-01-01T10:00:00Z');
const quiet = (at: number, extra: Partial<ActivitySample> = {}): ActivitySample => ({
  at,
  state: 'running',
  startedAt: T0 - 3_600_000,
  execRunning: false,
  cpuNs: 0,
  proxy: null,
  heartbeat: null,
  ...extra,
});
const tracker = (stopAfterMs = 10 * MIN) => new IdleTracker({ stopAfterMs, cpuPercent: 5 }, T0);

describe('idle tracker', () => {
  it('starts the clock when watching began, not at an old container start: nothing before it is known', () => {
    const t = tracker();
    expect(t.observe(quiet(T0 + 1000))).toEqual({ lastActivity: T0, signal: 'watch-start', deadline: T0 + 10 * MIN });
  });

  it('a quiet environment keeps its deadline; a container started later moves it', () => {
    const t = tracker();
    t.observe(quiet(T0 + MIN));
    expect(t.observe(quiet(T0 + 5 * MIN, { startedAt: T0 + 4 * MIN })).deadline).toBe(T0 + 14 * MIN);
    expect(t.state().signal).toBe('container-start');
  });

  it('a 15-minute open connection with nothing else keeps it alive, and the clock runs from its close', () => {
    const t = tracker();
    t.observe(quiet(T0));
    for (let m = 1; m <= 15; m++) {
      const state = t.observe(quiet(T0 + m * MIN, { proxy: { open: 1, lastActivity: T0 } }));
      expect(state.deadline).toBeGreaterThan(T0 + m * MIN);
      expect(state.signal).toBe('connection');
    }
    // Closed at minute 15 (last seen open then): stopped ten minutes after, not kept forever.
    const state = t.observe(quiet(T0 + 16 * MIN, { proxy: { open: 0, lastActivity: T0 + 15 * MIN + 500 } }));
    expect(state).toEqual({ lastActivity: T0 + 15 * MIN + 500, signal: 'request', deadline: T0 + 25 * MIN + 500 });
    expect(t.observe(quiet(T0 + 30 * MIN, { proxy: { open: 0, lastActivity: T0 + 15 * MIN + 500 } })).deadline).toBe(T0 + 25 * MIN + 500);
  });

  it('an idle connection counts only while it is open: once closed, its old requests do not renew the deadline', () => {
    const t = tracker(5 * MIN);
    t.observe(quiet(T0 + MIN, { proxy: { open: 1, lastActivity: T0 } }));
    const closed = t.observe(quiet(T0 + 2 * MIN, { proxy: { open: 0, lastActivity: T0 } }));
    expect(closed).toEqual({ lastActivity: T0 + MIN, signal: 'connection', deadline: T0 + 6 * MIN });
    for (let m = 3; m < 20; m++) expect(t.observe(quiet(T0 + m * MIN, { proxy: { open: 0, lastActivity: T0 } })).deadline).toBe(T0 + 6 * MIN);
  });

  it('nothing counts beyond the moment it was read: a heartbeat mtime in the future does not keep it alive forever', () => {
    const t = tracker(5 * MIN);
    const future = T0 + 365 * 24 * 60 * MIN;
    expect(t.observe(quiet(T0 + MIN, { heartbeat: future }))).toEqual({ lastActivity: T0 + MIN, signal: 'heartbeat', deadline: T0 + 6 * MIN });
    // Read again unchanged, it is old news: the deadline stands.
    expect(t.observe(quiet(T0 + 7 * MIN, { heartbeat: future })).deadline).toBe(T0 + 6 * MIN);
    // Touched again (a new mtime), it counts at the time it was read.
    expect(t.observe(quiet(T0 + 8 * MIN, { heartbeat: T0 + 7.5 * MIN })).deadline).toBe(T0 + 12.5 * MIN);
  });

  it('a running exec session counts at every sample; an exec started between samples counts at its start', () => {
    const t = tracker();
    expect(t.observe(quiet(T0 + 3 * MIN, { execRunning: true }))).toMatchObject({ lastActivity: T0 + 3 * MIN, signal: 'exec' });
    expect(t.observe(quiet(T0 + 5 * MIN), { execStarted: T0 + 4 * MIN })).toMatchObject({ lastActivity: T0 + 4 * MIN, signal: 'exec-start' });
  });

  it('CPU counts above the threshold between two samples, not below', () => {
    const t = tracker();
    t.observe(quiet(T0 + MIN, { cpuNs: 1e9 }));
    // 1 s of CPU in 60 s: 1.7%, under 5%.
    expect(t.observe(quiet(T0 + 2 * MIN, { cpuNs: 2e9 })).signal).toBe('watch-start');
    // 30 s of CPU in 60 s: 50%.
    expect(t.observe(quiet(T0 + 3 * MIN, { cpuNs: 32e9 }))).toMatchObject({ lastActivity: T0 + 3 * MIN, signal: 'cpu' });
    expect(cpuPercent({ at: 0, ns: 0 }, { at: 1000, ns: 1e9 })).toBe(100);
  });

  it('a touch from outside counts at its time', () => {
    const t = tracker();
    expect(t.observe(quiet(T0 + 9 * MIN), { touched: T0 + 8 * MIN })).toEqual({ lastActivity: T0 + 8 * MIN, signal: 'touch', deadline: T0 + 18 * MIN });
  });
});

describe('next check', () => {
  it('samples every 2 s near the deadline, exactly at it, and seldom far from it', () => {
    expect(nextCheck(T0, T0 + 3_600_000)).toBe(T0 + 60_000);
    expect(nextCheck(T0, T0 + 30_000)).toBe(T0 + 15_000);
    expect(nextCheck(T0, T0 + 12_000)).toBe(T0 + 2_000);
    expect(nextCheck(T0, T0 + 1_000)).toBe(T0 + 1_000);
    expect(nextCheck(T0, T0 - 1)).toBe(T0 + 2_000);
  });
});
