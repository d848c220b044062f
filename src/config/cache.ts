// Checked configs, kept on disk: parsing and checking 1,000 environments of YAML costs about
// 200 ms, and `plan` runs again and again on the same file. An entry is keyed by everything
// the result depends on: the file's text, the path it was named by and its absolute path,
// the home folder (`~/` in host paths), and the content of the checking code itself (this
// folder's modules, the diagnostics module and the YAML parser's version), so an edited file,
// a moved one or a rebuilt SandboxShift never meets an old answer. Only clean results (a
// config, warnings at most) are kept; errors are always worked out afresh.
import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cachedConfig, hostFacts, MAX_ENTRIES, type Entry } from './cache-read.js';
import { loadConfig, validateConfigText, type LoadResult } from './load.js';
import { DEFAULT_CONFIG_FILE } from './types.js';

export { configCacheDir, configCacheKey } from './cache-read.js';

/**
 * loadConfig, answered from the cache when the same text was checked before by the same code.
 * SANDBOXSHIFT_NO_CONFIG_CACHE=1 turns it off.
 */
export function loadConfigCached(file: string = DEFAULT_CONFIG_FILE): LoadResult {
  const cached = cachedConfig(file);
  if (!cached) return loadConfig(file); // cache off, or it reports the unreadable file with advice
  if (cached.result) return cached.result;
  const result = validateConfigText(cached.text, file);
  if (result.config) writeEntry(cached.entry, { key: cached.key, material: cached.material }, result);
  return result;
}

function writeEntry(path: string, keyed: Pick<Entry, 'key' | 'material'>, result: LoadResult): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    if (!result.config) return;
    writeFileSync(tmp, JSON.stringify({ ...keyed, result, facts: hostFacts(result.config) } satisfies Entry), { mode: 0o600 });
    renameSync(tmp, path);
    prune(dir);
  } catch {
    // A read-only cache folder only costs the next run a parse; the result is already in hand.
  }
}

function prune(dir: string): void {
  const entries = readdirSync(dir).filter((n) => n.endsWith('.json'));
  if (entries.length <= MAX_ENTRIES) return;
  const byAge = entries.map((n) => ({ path: join(dir, n), at: statSync(join(dir, n)).mtimeMs })).sort((a, b) => a.at - b.at);
  for (const old of byAge.slice(0, entries.length - MAX_ENTRIES)) unlinkSync(old.path);
}
