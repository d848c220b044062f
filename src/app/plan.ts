// `plan` as a library call: load and observe (overlapped), plan, check image contracts. The
// plan command's hot path: only what planning needs is imported here.
import { DiagnosticsError, hasErrors } from '../diagnostics.js';
import type { Engine } from '../engine/client.js';
import type { Plan } from '../plan/types.js';
import { checkImageContracts, loadAndObserve, planFor, type Loaded, type PlanRequest } from './pipeline.js';

/** The plan for the config at `configPath` against the engine now; any error diagnostic throws. */
export async function planProject(engine: Engine, configPath: string, req: PlanRequest = {}): Promise<Plan> {
  const { loaded, observed } = await loadAndObserve(engine, configPath, { refresh: req.refresh, registry: !req.destroy });
  return checkedPlan(engine, loaded, planFor(loaded, observed, req));
}

/**
 * A plan with the image contract checked (not for destroy: nothing is created); error
 * diagnostics from planning or the contract throw.
 */
export async function checkedPlan(engine: Engine, loaded: Loaded, planned: Plan): Promise<Plan> {
  if (hasErrors(planned.diagnostics)) throw new DiagnosticsError(planned.diagnostics);
  if (planned.mode === 'destroy') return planned;
  const plan = { ...planned, diagnostics: [...planned.diagnostics, ...(await checkImageContracts(engine, loaded, planned))] };
  if (hasErrors(plan.diagnostics)) throw new DiagnosticsError(plan.diagnostics);
  return plan;
}
