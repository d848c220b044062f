// apply and destroy as one library call: lock, observe, plan, check (errors, image contracts,
// a saved plan still holding), show, approve, execute. The CLI and an unattended runner (watch)
// both call it and differ only in their hooks.
import type { ApplyListener, ApplyResult } from '../apply/events.js';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { connectEngine } from '../engine/client.js';
import type { LockInfo } from '../engine/lock.js';
import { hasChanges, type Plan } from '../plan/types.js';
import { staleReasons } from '../plan/saved.js';
import { withLock, type StopSignal } from './lock.js';
import { applyPlan, load, observeFor, planFor, type Refresh } from './pipeline.js';
import { checkedPlan } from './plan.js';
import { withPolicyCheck } from './policy.js';

export interface ConvergeRequest {
  command: 'apply' | 'destroy';
  configPath: string;
  targets: string[];
  /** Approval given in advance (--auto-approve); a saved plan was approved when it was saved. */
  autoApprove: boolean;
  parallelism: number;
  purgeVolumes?: boolean;
  /** A saved plan that must still hold; its targets replace `targets`. */
  saved?: { path: string; plan: Plan };
  /** Extra arguments the `unlock` hint of a "locked" error needs (e.g. `-c FILE`). */
  unlockArgs?: string[];
  /** `full`: inspect every environment container for security drift. */
  refresh?: Refresh;
}

export interface ConvergeHooks {
  /** The checked plan, with the lock held. `approval`: approve() is asked next. */
  show(plan: Plan, next: { approval: boolean }): Promise<void>;
  /** Asked only for a plan with changes that neither autoApprove nor a saved plan approves. */
  approve(plan: Plan): Promise<boolean>;
  /** Runs the apply (`run`), e.g. inside a progress view; without it, run() is called with no listener. */
  execute?(plan: Plan, run: (onEvent?: ApplyListener) => Promise<ApplyResult>): Promise<ApplyResult>;
  /** A signal stops the run: told before the lock is given back and the process exits (130/143). */
  interrupted?(signal: StopSignal): void;
  /** A stale lock of this host (its holder gone) is about to be taken over. */
  lockTakenOver?(stale: LockInfo): void;
}

export type ConvergeOutcome = { status: 'no-changes'; plan: Plan } | { status: 'cancelled'; plan: Plan } | { status: 'applied'; plan: Plan; result: ApplyResult };

/** Whether an outcome left work undone (a failed or skipped change). */
export function incomplete(outcome: ConvergeOutcome): boolean {
  return outcome.status === 'applied' && outcome.result.failed.length + outcome.result.skipped.length > 0;
}

export async function converge(req: ConvergeRequest, hooks: ConvergeHooks): Promise<ConvergeOutcome> {
  const destroy = req.command === 'destroy';
  const loaded = load(req.configPath, { needSecrets: !destroy, readBuildContexts: !destroy });
  const engine = connectEngine();
  return withLock(
    engine,
    loaded.desired.project,
    { command: req.command, onSignal: (signal) => hooks.interrupted?.(signal), unlockArgs: req.unlockArgs, onTakeover: (stale) => hooks.lockTakenOver?.(stale) },
    async () => {
      // A saved plan made with a full refresh is checked against an equally close look.
      const refresh = req.saved?.plan.refresh ?? req.refresh;
      const observed = await observeFor(engine, loaded.desired, refresh, destroy ? null : loaded.config.file);
      const targets = req.saved ? req.saved.plan.targets : req.targets;
      const plan = await checkedPlan(engine, loaded, planFor(loaded, observed, { targets, destroy, purgeVolumes: req.purgeVolumes, refresh }));
      if (req.saved) refuseStale(req.saved, plan);
      const approval = hasChanges(plan) && !req.autoApprove && !req.saved;
      await hooks.show(plan, { approval });
      if (!hasChanges(plan)) return { status: 'no-changes', plan };
      if (approval && !(await hooks.approve(plan))) return { status: 'cancelled', plan };
      // The policy is checked again right before the creates, under the engine-wide lock when it has engine-wide ceilings.
      const run = (onEvent?: ApplyListener) => withPolicyCheck(engine, loaded, plan, () => applyPlan(engine, loaded, plan, { parallelism: req.parallelism, onEvent }));
      const result = hooks.execute ? await hooks.execute(plan, run) : await run();
      return { status: 'applied', plan, result };
    },
  );
}

function refuseStale(saved: { path: string; plan: Plan }, fresh: Plan): void {
  const stale = staleReasons(saved.plan, fresh);
  if (stale.length === 0) return;
  throw new DiagnosticsError([
    errorDiag(`saved plan ${saved.path} is stale and was not applied: ${stale.join('; ')}`, {
      hint: `review a new one: sandboxshift plan --out ${saved.path}`,
    }),
  ]);
}
