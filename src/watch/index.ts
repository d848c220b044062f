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
export { GitTrigger, GIT_INTERVAL_MS } from './git-trigger.js';
export { fastForwardDecision, blockingEdits, splitRemoteRef, GitRepo, type FastForward } from './git.js';
export { WatchListener } from './http.js';
export { checkSignature, signBody, readBounded, parseListenAddress, WEBHOOK_BODY_LIMIT, type SignatureCheck } from './webhook.js';
export { watchMetrics, metricsRegistry, setAppliedCommit } from './metrics.js';
export { IdleTrigger } from './idle-trigger.js';
export { IdleTracker, nextCheck, cpuPercent, type IdleState, type ActivitySignal } from './idle-tracker.js';
