// `sandboxshift cp SRC DST` as a library call: the config loaded and checked (from the
// checked-config cache when it can be), then the copy (copy-run.ts), by docker cp's landing rules.
import { DiagnosticsError, hasErrors } from '../diagnostics.js';
import type { Engine } from '../engine/client.js';
import { containerName } from '../model/names.js';
import { cachedConfig } from '../config/cache-read.js';
import { peekProject } from '../config/peek.js';
import type { Config } from '../config/types.js';
import { copyEnvironmentArg, copyWithConfig, inspectContainer, type CopyReport, type CopyRequest } from './copy-run.js';

export { COPY_FORMAT_VERSION, type CopyReport, type CopyRequest } from './copy-run.js';

export async function copy(engine: Engine, request: CopyRequest): Promise<CopyReport> {
  const envArg = copyEnvironmentArg(request);
  // The container's inspect leaves while the config is read (its project peeked from the file).
  const peeked = await peekProject(request.configPath);
  const early = peeked ? inspectContainer(engine, containerName(peeked, envArg.env)) : null;
  early?.catch(() => undefined);
  const config = await loadConfig(request.configPath);
  return copyWithConfig(engine, request, config, early && peeked === config.project ? early : undefined);
}

/**
 * The config from the checked-config cache; the loader and its checks (the schema validator, a
 * fifth of a small copy's time) are loaded only on a miss. Any error diagnostic throws.
 */
async function loadConfig(path: string): Promise<Config> {
  const hit = cachedConfig(path)?.result;
  if (hit?.config && !hasErrors(hit.diagnostics)) return hit.config;
  const { loadConfigCached } = await import('../config/cache.js');
  const { config, diagnostics } = loadConfigCached(path);
  if (!config || hasErrors(diagnostics)) throw new DiagnosticsError(diagnostics);
  return config;
}
