// Live figures for whoever watches the sandbox (the idle tracker reads them with one archive call):
// open connections, totals and bytes, in a small JSON file replaced atomically (temp file and
// rename), written within a second of any change and never more than once a second. Nothing
// here runs on the data path but adding to counters.

import { rename, writeFile } from 'node:fs/promises';
import type { ConnectionEvents } from './connections.js';
import { errorMessage, eventLine } from './log-lines.js';

export const DEFAULT_STATS_PATH = '/var/lib/sandboxshift-egress/stats.json';
const MIN_INTERVAL_MS = 1000;

export interface StatsSnapshot {
  format_version: '1';
  ts: string;
  started_at: string;
  policy_hash: string;
  open_connections: number;
  connections_total: number;
  requests_total: number;
  denied_total: number;
  /** Sandbox to internet. */
  bytes_up: number;
  /** Internet to sandbox. */
  bytes_down: number;
  /** Last decision or last byte moved either way. */
  last_activity: string | null;
}

export class LiveStats implements ConnectionEvents {
  private readonly startedAt = new Date();
  private policyHash: string;
  private open = 0;
  private connectionsTotal = 0;
  private requestsTotal = 0;
  private deniedTotal = 0;
  private bytesUp = 0;
  private bytesDown = 0;
  private lastActivity: number | null = null;
  private onChange: () => void = () => {};

  constructor(policyHash: string) {
    this.policyHash = policyHash;
  }

  /** Called after every change (the file writer schedules itself from it). */
  subscribe(onChange: () => void): void {
    this.onChange = onChange;
  }

  policy(hash: string): void {
    this.policyHash = hash;
    this.onChange();
  }

  decision(decision: 'allow' | 'deny'): void {
    this.requestsTotal++;
    if (decision === 'deny') this.deniedTotal++;
    this.lastActivity = Date.now();
    this.onChange();
  }

  opened(): void {
    this.open++;
    this.connectionsTotal++;
    this.onChange();
  }

  closed(): void {
    this.open--;
    this.onChange();
  }

  /**
   * A request that waits on the proxy (its name resolving, its upstream connecting: up to the
   * connect timeout when the destination drops the SYN) is an open connection of the sandbox's
   * too, and activity: without this an idle policy shorter than that wait stopped an environment
   * whose every request was waiting (`+1` when it starts waiting, `-1` when it stops).
   */
  waiting(delta: 1 | -1): void {
    this.open += delta;
    this.lastActivity = Date.now();
    this.onChange();
  }

  bytes(up: number, down: number): void {
    this.bytesUp += up;
    this.bytesDown += down;
    // Date.now() per chunk is cheap; an ISO string is made only when the file is written.
    this.lastActivity = Date.now();
    this.onChange();
  }

  snapshot(now: Date = new Date()): StatsSnapshot {
    return {
      format_version: '1',
      ts: now.toISOString(),
      started_at: this.startedAt.toISOString(),
      policy_hash: this.policyHash,
      open_connections: this.open,
      connections_total: this.connectionsTotal,
      requests_total: this.requestsTotal,
      denied_total: this.deniedTotal,
      bytes_up: this.bytesUp,
      bytes_down: this.bytesDown,
      last_activity: this.lastActivity === null ? null : new Date(this.lastActivity).toISOString(),
    };
  }
}

export interface StatsFileWriter {
  /** Writes the last figures now and stops writing. */
  stop(): Promise<void>;
}

/**
 * Keeps `path` up to date with `stats`: the first write at once, then at most one per
 * `minIntervalMs`, each within that long of the change that called for it. A write that fails is
 * logged once (and again once after it has worked again); the proxy goes on without the file.
 */
export function writeStatsFile(stats: LiveStats, path: string, log: (line: string) => void, minIntervalMs = MIN_INTERVAL_MS): StatsFileWriter {
  let lastWrite = 0;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  let failing = false;
  let stopped = false;

  const write = () => {
    timer = undefined;
    lastWrite = Date.now();
    const temp = `${path}.${process.pid}.tmp`;
    const body = `${JSON.stringify(stats.snapshot())}\n`;
    writing = writing
      .then(() => writeFile(temp, body))
      .then(() => rename(temp, path))
      .then(
        () => {
          failing = false;
        },
        (error: unknown) => {
          if (!failing) log(eventLine('stats-error', { path, error: errorMessage(error) }));
          failing = true;
        },
      );
  };
  const schedule = () => {
    if (timer !== undefined || stopped) return;
    timer = setTimeout(write, Math.max(0, lastWrite + minIntervalMs - Date.now()));
    timer.unref();
  };
  stats.subscribe(schedule);
  write();

  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      write();
      await writing;
    },
  };
}
