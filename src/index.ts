// The library surface: the same pipeline the CLI runs.
export { loadConfig, validateConfigText, type Config, type EnvironmentConfig } from './config/index.js';
export { DiagnosticsError, formatDiagnostic, type Diagnostic } from './diagnostics.js';
export { resolveDesired } from './model/resolve.js';
export type { DesiredState, DesiredEnvironment, EnvironmentSpec, ResourcesSpec } from './model/desired.js';
export type { ObservedState, ObservedContainer } from './model/observed.js';
export { connectEngine, engineFrom, observe, acquireLock, releaseLock, Labels, type Engine } from './engine/index.js';
export { plan, planDestroy, staleReasons, hasChanges, summarize, type Plan, type Change, type Reason, type DataEffect } from './plan/index.js';
export { executePlan } from './apply/executor.js';
export type { ApplyEvent, ApplyResult } from './apply/events.js';
export { renderText, renderJson, planToJson, planFromJson, PLAN_FORMAT_VERSION, type JsonPlan } from './render/index.js';
export { load, observeFor, planFor, applyPlan, planProject, converge, diffRevisions, buildImages, withLock, readPlanFile, writePlanFile } from './app/index.js';
export type { ConvergeRequest, ConvergeHooks, ConvergeOutcome, ImageBuildOutcome, RevisionDiff } from './app/index.js';
export { VERSION } from './version.js';
