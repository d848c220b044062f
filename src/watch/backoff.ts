// Exponential backoff per key: the first retry after `initialMs`, doubling up to `capMs`. A
// success forgets the key. Time comes from the caller, so the rule is tested with a fake clock.

export interface BackoffOptions {
  initialMs: number;
  capMs: number;
}

export const FAILURE_BACKOFF: BackoffOptions = { initialMs: 1_000, capMs: 5 * 60_000 };

interface Entry {
  failures: number;
  retryAt: number;
}

export class Backoff {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: BackoffOptions = FAILURE_BACKOFF) {}

  /** The delay before attempt number `failures + 1`, after `failures` failures in a row. */
  delayAfter(failures: number): number {
    if (failures <= 0) return 0;
    return Math.min(this.options.capMs, this.options.initialMs * 2 ** Math.min(failures - 1, 30));
  }

  /** Records a failure at `now`; returns the delay until the next attempt. */
  fail(key: string, now: number): number {
    const failures = (this.entries.get(key)?.failures ?? 0) + 1;
    const delay = this.delayAfter(failures);
    this.entries.set(key, { failures, retryAt: now + delay });
    return delay;
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets every key (e.g. a new config: each change gets a fresh first try). */
  reset(): void {
    this.entries.clear();
  }

  failures(key: string): number {
    return this.entries.get(key)?.failures ?? 0;
  }

  /** Whether `key` must still wait at `now`. */
  waiting(key: string, now: number): boolean {
    const e = this.entries.get(key);
    return e !== undefined && e.retryAt > now;
  }

  /** Milliseconds until `key` may be tried again (0 when it may be now). */
  remaining(key: string, now: number): number {
    const e = this.entries.get(key);
    return e ? Math.max(0, e.retryAt - now) : 0;
  }

  /** The earliest time a waiting key may be tried again, or null when none waits. */
  nextRetryAt(now: number): number | null {
    let next: number | null = null;
    for (const e of this.entries.values()) if (e.retryAt > now && (next === null || e.retryAt < next)) next = e.retryAt;
    return next;
  }
}

/** `1.5s`, `2m`, `5m`: a short human form of a delay. */
export function formatDelay(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  return `${Math.round(ms / 6_000) / 10}m`;
}
