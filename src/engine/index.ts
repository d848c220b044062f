export { connectEngine, engineFrom, engineDescription, withEngine, engineMessage, statusCode, type Engine, type Docker } from './client.js';
export type { EngineReader } from './reader.js';
export { observe, refineResources, buildObserved } from './observe.js';
export { Labels, LABEL_PREFIX } from './labels.js';
export { acquireLock, releaseLock, readLock, LOCK_IMAGE, type HeldLock, type LockInfo, type LockOptions } from './lock.js';
export { containerCreateOptions } from './container-spec.js';
export { recordAppliedCommit, readAppliedCommit, type AppliedCommit } from './applied-record.js';
export * as operations from './operations.js';
export { readProxyStats, type ProxyStats, type ProxyStatsRead } from './proxy-stats.js';
