// One reconcile as a library call, for an unattended runner (watch): take the engine lock for
// this run only, observe afresh, plan, let the caller pick what to apply of the plan (its
// safety rules), apply that, give the lock back. A lock held by someone else is an outcome,
// not an error: the runner waits and tries again.
import type { ApplyListener, ApplyResult } from '../apply/events.js';
import { DiagnosticsError } from '../diagnostics.js';
import type { Engine } from '../engine/client.js';
import { acquireLock, readLock, type HeldLock, type LockInfo } from '../engine/lock.js';
import type { Change, Plan } from '../plan/types.js';
import { applyPlan, observeFor, planFor, type Loaded } from './pipeline.js';
import { checkedPlan } from './plan.js';
import { withPolicyCheck } from './policy.js';

export interface ReconcileOptions<S extends { apply: Change[] }> {
  /** Recorded on the lock, shown to whoever finds it held. */
  command: string;
  parallelism: number;
  /** What to apply of the fresh plan (the rest is the caller's to report). */
  select: (plan: Plan) => S;
  onEvent?: ApplyListener;
  /** Aborted: no further change starts; those in flight finish, then the lock is given back. */
  signal?: AbortSignal;
  /** Told when the lock is taken (the lock) and given back (null), so a runner can release it on a forced exit. */
  onLock?: (lock: HeldLock | null) => void;
  /** A stale lock of this host (its holder gone) is about to be taken over. */
  onTakeover?: (stale: LockInfo) => void;
}

export type ReconcileOutcome<S> = { status: 'locked'; holder: LockInfo | null } | { status: 'reconciled'; plan: Plan; selection: S; result: ApplyResult | null; elapsedMs: number };

export async function reconcileOnce<S extends { apply: Change[] }>(engine: Engine, loaded: Loaded, options: ReconcileOptions<S>): Promise<ReconcileOutcome<S>> {
  const started = Date.now();
  const project = loaded.desired.project;
  const docker = await engine.docker();
  let lock: HeldLock;
  try {
    lock = await acquireLock(docker, project, options.command, { onTakeover: options.onTakeover });
  } catch (err) {
    if (!(err instanceof DiagnosticsError)) throw err;
    // Someone else holds it (the lock's own error says so): who, read as data; null if just given back.
    if (!err.diagnostics.some((d) => d.message.includes('is locked'))) throw err;
    return { status: 'locked', holder: await readLock(docker, project) };
  }
  options.onLock?.(lock);
  try {
    const observed = await observeFor(engine, loaded.desired, 'list', loaded.config.file);
    const plan = await checkedPlan(engine, loaded, planFor(loaded, observed));
    const selection = options.select(plan);
    const result =
      selection.apply.length === 0 || options.signal?.aborted
        ? null
        : await withPolicyCheck(engine, loaded, plan, () =>
            applyPlan(engine, loaded, { ...plan, changes: selection.apply }, { parallelism: options.parallelism, onEvent: options.onEvent, signal: options.signal }),
          );
    return { status: 'reconciled', plan, selection, result, elapsedMs: Date.now() - started };
  } finally {
    await lock.release();
    options.onLock?.(null);
  }
}
