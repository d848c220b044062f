// The idle tracker: pure. Given an environment's activity samples and the clock, it decides
// when its last activity was, which signal it was, and its deadline (last activity + stopAfter).
//
// Two kinds of signal, on purpose (coder #12012: idle connections kept workspaces alive forever;
// Daytona #4310: processes did not count; fabro #766: a 15-minute model call must not get its
// sandbox stopped):
// - states that count for as long as they last, seen at each sample: an exec session running,
//   CPU above the threshold since the last sample, a connection open through the egress proxy;
// - moments: the container's start, an exec started (engine event), the proxy's last request or
//   byte, the heartbeat file's mtime, `sandboxshift touch`. A moment never counts beyond the
//   time it was read (a heartbeat mtime in the future keeps nothing alive forever).
import type { ActivitySample } from '../engine/idle-signals.js';

export type ActivitySignal = 'watch-start' | 'container-start' | 'exec' | 'exec-start' | 'cpu' | 'connection' | 'request' | 'heartbeat' | 'touch';

export interface IdleState {
  /** ms since epoch */
  lastActivity: number;
  signal: ActivitySignal;
  /** When the policy acts unless something happens first (ms). */
  deadline: number;
}

export interface TrackerOptions {
  stopAfterMs: number;
  /** Percent of one core. */
  cpuPercent: number;
}

/** What a sample adds to the engine's own samples: moments only the caller knows. */
export interface Moments {
  /** The last `sandboxshift touch` (from its engine record). */
  touched?: number | null;
  /** The last exec started, from the engine's event stream. */
  execStarted?: number | null;
}

export class IdleTracker {
  private last: { at: number; signal: ActivitySignal };
  private prevCpu: { at: number; ns: number } | null = null;
  private readonly moments = new Map<ActivitySignal, number>();

  /** `since`: when watching began; nothing before it is known (CPU, sessions), so the clock starts no earlier. */
  constructor(
    private options: TrackerOptions,
    since: number,
  ) {
    this.last = { at: since, signal: 'watch-start' };
  }

  setOptions(options: TrackerOptions): void {
    this.options = options;
  }

  /** Folds one sample in; returns the state after it. */
  observe(sample: ActivitySample, moments: Moments = {}): IdleState {
    const now = sample.at;
    const seen = (at: number | null | undefined, signal: ActivitySignal, moment = true) => {
      if (at === null || at === undefined || !Number.isFinite(at)) return;
      // A moment read again unchanged is old news (a future mtime must not renew every sample).
      if (moment) {
        if (this.moments.get(signal) === at) return;
        this.moments.set(signal, at);
      }
      const t = Math.min(at, now);
      if (t > this.last.at || (t === this.last.at && this.last.signal === 'watch-start')) this.last = { at: t, signal };
    };
    seen(sample.startedAt, 'container-start');
    seen(sample.heartbeat, 'heartbeat');
    seen(sample.proxy?.lastActivity, 'request');
    seen(moments.touched, 'touch');
    seen(moments.execStarted, 'exec-start');
    if (sample.cpuNs !== null) {
      const prev = this.prevCpu;
      this.prevCpu = { at: now, ns: sample.cpuNs };
      if (prev && now > prev.at && sample.cpuNs >= prev.ns && cpuPercent(prev, this.prevCpu) > this.options.cpuPercent) seen(now, 'cpu', false);
    } else this.prevCpu = null;
    if (sample.proxy && sample.proxy.open > 0) seen(now, 'connection', false);
    if (sample.execRunning) seen(now, 'exec', false);
    return this.state();
  }

  state(): IdleState {
    return { lastActivity: this.last.at, signal: this.last.signal, deadline: this.last.at + this.options.stopAfterMs };
  }
}

/** Percent of one core used between two cumulative CPU readings. */
export function cpuPercent(a: { at: number; ns: number }, b: { at: number; ns: number }): number {
  return ((b.ns - a.ns) / ((b.at - a.at) * 1e6)) * 100;
}

/**
 * When to sample next: every `nearMs` within `nearWindowMs` of the deadline, exactly at the
 * deadline, and otherwise halfway there (at most `farMs` apart), so a policy of hours costs
 * a sample every minute or so while one near its end is checked every few seconds.
 */
export function nextCheck(now: number, deadline: number, opts = { nearMs: 2_000, farMs: 60_000, nearWindowMs: 10_000 }): number {
  if (deadline <= now) return now + opts.nearMs;
  const left = deadline - now;
  if (left <= opts.nearWindowMs) return Math.min(deadline, now + opts.nearMs);
  return Math.min(deadline - opts.nearWindowMs, now + Math.min(opts.farMs, Math.max(opts.nearMs, Math.floor(left / 2))));
}
