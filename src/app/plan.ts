// `plan` as a library call: load and observe (overlapped, with the engine's policy read at the
// same time), plan, check the policy and image contracts. The plan command's hot path: only
// what planning needs is imported here.
import { DiagnosticsError, hasErrors } from '../diagnostics.js';
import type { Engine } from '../engine/client.js';
import type { Plan } from '../plan/types.js';
import { checkImageContracts, loadAndObserve, planFor, type Loaded, type PlanRequest } from './pipeline.js';
import { checkPulledContracts } from './registry.js';
import { policyViolations, readPolicy, readPolicyFacts, type PolicyFacts } from './policy.js';

/** The plan for the config at `configPath` against the engine now; any error diagnostic throws. */
export async function planProject(engine: Engine, configPath: string, req: PlanRequest = {}): Promise<Plan> {
  // The policy (and, for engine-wide ceilings, every project's use) is read while the config loads and the engine is observed.
  const policy = readPolicyFacts(engine);
  policy.catch(() => undefined); // surfaces below, after load's own errors
  const { loaded, observed } = await loadAndObserve(engine, configPath, { refresh: req.refresh, registry: !req.destroy });
  return checkedPlan(engine, loaded, planFor(loaded, observed, req), await policy);
}

/**
 * A plan with the engine's policy (read now unless given) and the image contract checked (not
 * for destroy: nothing is created), for pulled images from their config on the registry;
 * error diagnostics from planning, policy or contract throw.
 */
export async function checkedPlan(engine: Engine, loaded: Loaded, planned: Plan, policy?: PolicyFacts): Promise<Plan> {
  if (planned.mode === 'destroy') {
    if (hasErrors(planned.diagnostics)) throw new DiagnosticsError(planned.diagnostics);
    return planned;
  }
  const violations = await policyViolations(engine, loaded, policy === undefined ? await readPolicy(engine) : policy);
  const withPolicy = [...planned.diagnostics, ...violations];
  if (hasErrors(withPolicy)) throw new DiagnosticsError(withPolicy);
  // The contract of images on the engine (probed) and of images the plan pulls (their config on the registry).
  const [local, pulled] = await Promise.all([checkImageContracts(engine, loaded, planned), checkPulledContracts(engine, loaded.desired, planned, loaded.config.file)]);
  const plan = { ...planned, diagnostics: [...withPolicy, ...local, ...pulled] };
  if (hasErrors(plan.diagnostics)) throw new DiagnosticsError(plan.diagnostics);
  return plan;
}
