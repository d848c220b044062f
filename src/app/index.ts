// The application layer: plan, apply, destroy, diff and image builds as library calls. The CLI
// parses flags, calls one of these, picks a view and sets the exit code; an unattended runner
// calls the same functions with its own hooks. (The CLI imports the files directly, so each
// command loads only what it runs.)
export { load, loadAndObserve, observeFor, planFor, planBetween, checkImageContracts, applyPlan, connectEngine, type Loaded, type PlanRequest } from './pipeline.js';
export { planProject, checkedPlan } from './plan.js';
export { converge, incomplete, type ConvergeRequest, type ConvergeHooks, type ConvergeOutcome } from './converge.js';
export { withLock, SIGNAL_EXIT_CODES, type StopSignal, type LockOptions } from './lock.js';
export { buildImages, type ImageBuildOutcome } from './images.js';
export { diffRevisions, type RevisionDiff } from './diff.js';
export { readPlanFile, writePlanFile } from './plan-file.js';
export { reconcileOnce, type ReconcileOptions, type ReconcileOutcome } from './reconcile.js';
