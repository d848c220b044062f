export * from './types.js';
export { plan, planEnvironment } from './plan.js';
export { planDestroy, type DestroyOptions } from './destroy.js';
export { observedFingerprint } from './fingerprint.js';
export { formatBytes, shortId } from './format.js';
export { staleReasons } from './saved.js';
export { observedFromDesired, emptyObserved, assumedImageId, type EngineAssumptions } from './observed-from-desired.js';
