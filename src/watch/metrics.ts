// The watcher's Prometheus metrics (served on GET /metrics by --listen), in one registry of its
// own so nothing else a library registers leaks in. One set per process: the watch loop, the git
// trigger and the idle policy each increment theirs.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const metricsRegistry = new Registry();

export const watchMetrics = {
  /** One per reconcile, by outcome: applied (changes made), in-sync, held (something held back), failed, locked, invalid-config. */
  reconciles: new Counter({ name: 'sandboxshift_reconciles_total', help: 'Reconciles run by the watcher, by outcome.', labelNames: ['outcome'] as const, registers: [metricsRegistry] }),
  reconcileSeconds: new Histogram({
    name: 'sandboxshift_reconcile_duration_seconds',
    help: 'Time of one reconcile (observe, plan, apply), lock held.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [metricsRegistry],
  }),
  /** Changes applied in a reconcile that the engine's event stream asked for (something changed behind our back). */
  driftRepairs: new Counter({ name: 'sandboxshift_drift_repairs_total', help: 'Changes applied to repair drift reported by engine events.', registers: [metricsRegistry] }),
  /** Failed changes and failed reconciles (engine unreachable, a step that errored). */
  failures: new Counter({ name: 'sandboxshift_failures_total', help: 'Failed changes and failed reconciles.', labelNames: ['kind'] as const, registers: [metricsRegistry] }),
  /** Incremented by the idle policy for each environment it stops or pauses. */
  idleStops: new Counter({ name: 'sandboxshift_idle_stops_total', help: 'Environments stopped or paused by their idle policy.', labelNames: ['action'] as const, registers: [metricsRegistry] }),
  /** 1 for the git commit last applied (watch --git), labelled with it. */
  appliedCommit: new Gauge({
    name: 'sandboxshift_applied_commit_info',
    help: 'The git commit last applied by the watcher (value 1, commit in the label).',
    labelNames: ['commit'] as const,
    registers: [metricsRegistry],
  }),
  /** Webhook deliveries by result: accepted, unsigned, bad-signature, too-large. */
  webhooks: new Counter({ name: 'sandboxshift_webhooks_total', help: 'Webhook deliveries by result.', labelNames: ['result'] as const, registers: [metricsRegistry] }),
};

export function setAppliedCommit(commit: string): void {
  watchMetrics.appliedCommit.reset();
  watchMetrics.appliedCommit.set({ commit }, 1);
}

// Series that exist from the start at 0, so a rate() over them works before the first event.
for (const action of ['stop', 'pause']) watchMetrics.idleStops.inc({ action }, 0);
