// `diff` as a library call: the plan between two git revisions of the config, with no engine.
import { loadConfigAt, type ConfigRevision } from '../config/index.js';
import { DiagnosticsError, errorDiag, hasErrors } from '../diagnostics.js';
import type { Plan } from '../plan/types.js';
import { planBetween } from './pipeline.js';

export interface RevisionDiff {
  plan: Plan;
  from: ConfigRevision;
  to: ConfigRevision;
}

/** What apply would change when `file` moves from `fromRef` to `toRef` (null: the working tree). */
export async function diffRevisions(file: string, fromRef: string, toRef: string | null): Promise<RevisionDiff> {
  const [from, to] = await Promise.all([loadConfigAt(file, fromRef), loadConfigAt(file, toRef)]);
  const problems = [...from.diagnostics, ...to.diagnostics].filter((d) => d.severity === 'error');
  if (!from.config || !to.config || problems.length) throw new DiagnosticsError(problems.length ? problems : [errorDiag('diff: the config could not be loaded')]);
  const planned = planBetween(from.config, to.config, { from: from.label, to: to.label });
  const plan = { ...planned, diagnostics: [...to.diagnostics, ...planned.diagnostics] };
  if (hasErrors(plan.diagnostics)) throw new DiagnosticsError(plan.diagnostics);
  return { plan, from, to };
}
