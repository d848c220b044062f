// What the watcher applies of a plan, and what it holds back, by rules that need no engine:
// - a change whose data effect destroys a workspace is never applied unattended;
// - deleting more than half of the project's environments at once is held back until
//   --allow-mass-delete (one bad commit must not empty a project: argo-cd #28986);
// - a change that failed waits out its backoff, and does not hold up the others;
// - a change that depends on one held back or waiting is held back with it.
import type { Change, Plan } from '../plan/types.js';
import type { Backoff } from './backoff.js';

export interface HeldChange {
  address: string;
  /** Why, in words a log line can carry. */
  reason: string;
  rule: 'destroys-workspace' | 'mass-delete' | 'backoff' | 'depends-on-held';
}

export interface Selection {
  /** The changes to apply now (no-ops left out). */
  apply: Change[];
  held: HeldChange[];
  /** With the mass-delete rule: how many of how many environments the plan deletes. */
  massDelete: { deleting: number; of: number } | null;
}

export interface SelectOptions {
  allowMassDelete: boolean;
  backoff: Backoff;
  now: number;
}

/**
 * The environments a plan deletes because the config no longer has them, of those the engine
 * has: environments the same plan creates do not count, or a commit that renames every
 * environment (or adds as many new ones) would delete them all without being held back.
 */
export function deletions(plan: Plan): { deleting: string[]; of: number } {
  const names = new Set<string>();
  const deleting = new Set<string>();
  for (const c of plan.changes) {
    if (c.type !== 'environment' || c.kind === 'create') continue;
    names.add(c.name);
    if (c.kind === 'delete' && c.reasons.some((r) => r.code === 'removed_from_config')) deleting.add(c.name);
  }
  return { deleting: [...deleting].sort(), of: names.size };
}

/** More than half of the project's environments deleted at once. */
export function isMassDelete(deleting: number, of: number): boolean {
  return deleting > 0 && deleting * 2 > of;
}

export function selectChanges(plan: Plan, options: SelectOptions): Selection {
  const held = new Map<string, HeldChange>();
  const { deleting, of } = deletions(plan);
  const mass = isMassDelete(deleting.length, of);
  const deletingSet = new Set(deleting);
  for (const c of plan.changes) {
    if (c.kind === 'no-op') continue;
    if (c.dataEffect === 'destroys-workspace') {
      held.set(c.address, {
        address: c.address,
        rule: 'destroys-workspace',
        reason: `${c.address} ${c.kind} would delete its /workspace (data: destroys-workspace); run \`sandboxshift apply\` by hand if that is meant`,
      });
    } else if (mass && !options.allowMassDelete && c.type === 'environment' && c.kind === 'delete' && deletingSet.has(c.name)) {
      held.set(c.address, {
        address: c.address,
        rule: 'mass-delete',
        reason: `${c.address} delete: the config deletes ${deleting.length} of ${of} environments at once (more than half); restart with --allow-mass-delete if that is meant`,
      });
    } else if (options.backoff.waiting(c.address, options.now)) {
      const s = Math.ceil(options.backoff.remaining(c.address, options.now) / 1000);
      held.set(c.address, { address: c.address, rule: 'backoff', reason: `${c.address} failed ${options.backoff.failures(c.address)} time(s); next try in ${s}s` });
    }
  }
  // Whatever waits on a held change waits with it (to a fixed point: dependencies chain).
  const pending = plan.changes.filter((c) => c.kind !== 'no-op');
  for (let grew = true; grew;) {
    grew = false;
    for (const c of pending) {
      if (held.has(c.address)) continue;
      const on = c.dependsOn.find((d) => held.has(d));
      if (!on) continue;
      held.set(c.address, { address: c.address, rule: 'depends-on-held', reason: `${c.address} depends on ${on}, which is held back` });
      grew = true;
    }
  }
  return {
    apply: pending.filter((c) => !held.has(c.address)),
    held: [...held.values()],
    massDelete: mass ? { deleting: deleting.length, of } : null,
  };
}
