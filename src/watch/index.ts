// watch: triggers, the reconcile loop and its safety rules.
export { Watcher, type WatcherOptions, LOCK_BACKOFF, STOP_DEADLINE_MS } from './watcher.js';
export type { Trigger, TriggerSink } from './trigger.js';
export { FileTrigger, configInputs, FILE_DEBOUNCE_MS } from './file-trigger.js';
export { EngineEventsTrigger, driftOf, EVENT_FILTERS } from './engine-trigger.js';
export { ResyncTrigger } from './resync-trigger.js';
export { watchLog, type WatchLog, type LogFormat } from './log.js';
export { selectChanges, deletions, isMassDelete, type HeldChange, type Selection } from './safety.js';
export { Backoff, FAILURE_BACKOFF, formatDelay } from './backoff.js';
export { Coalescer, Debouncer, type TriggerHint } from './scheduler.js';
export { IdleTrigger } from './idle-trigger.js';
export { IdleTracker, nextCheck, cpuPercent, type IdleState, type ActivitySignal } from './idle-tracker.js';
