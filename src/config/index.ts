// Public surface of src/config: load and check sandboxshift.yaml into a Config.

export { loadConfig, validateConfigText, type LoadResult } from './load.js';
export { loadConfigCached, configCacheDir, configCacheKey } from './cache.js';
export { parseMemory, parseDuration, formatBytes, MIN_MEMORY_BYTES } from './units.js';
export { parseUser } from './raw-config.js';
export { resolveHostPath } from './build-config.js';
export { isDockerSocket } from './dangerous-checks.js';
export { isEgressEntry } from './egress-entry.js';
export { SCHEMA_FILE } from './schema.js';
export * from './types.js';
export { loadConfigAt, type ConfigRevision } from './revision.js';
export { egressRuleOrigins, type EgressOrigin, type EgressRuleOrigin } from './egress-origin.js';
