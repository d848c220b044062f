// The short path of `cp`, for the common case: the config answered from the checked-config cache
// (no host facts to check) and an engine on a plain socket. It loads no YAML parser, no checks,
// no flag parser and no dockerode; the copy itself is the full command's (copy-run.ts), with the
// same refusals. null when the full path must answer (nothing was asked of the engine then).
import { quickCachedConfig } from '../config/cache-key.js';
import { connectEngine } from '../engine/client.js';
import { plainTarget } from '../engine/reader.js';
import { copyWithConfig, type CopyReport, type CopyRequest } from './copy-run.js';

export async function quickCopy(request: CopyRequest): Promise<CopyReport | null> {
  if (!plainTarget()) return null;
  const config = quickCachedConfig(request.configPath);
  if (!config) return null;
  return copyWithConfig(connectEngine(), request, config);
}
