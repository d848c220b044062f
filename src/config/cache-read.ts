// The host side of the checked-config cache (see cache.ts; the key and entry are cache-key.ts):
// an entry is used only while what its checks saw on the host still holds. Kept apart from the
// checking code, which a cache hit never runs.
import type { LoadResult } from './load.js';
import type { Config } from './types.js';
import { resolveHostPath } from './build-config.js';
import { lookUpEntry, type Entry } from './cache-key.js';
import { realHostPath } from './dangerous-checks.js';
import { gitRedirect, localGitPath } from './git-url.js';

export { configCacheDir, configCacheKey, type Entry } from './cache-key.js';

/** Entries kept; the least recently written go first. */
export const MAX_ENTRIES = 32;

/**
 * The cache's answer for `file` (result null on a miss), or null when the cache is off
 * (SANDBOXSHIFT_NO_CONFIG_CACHE=1) or the file cannot be read (the full loader reports that).
 */
export function cachedConfig(file: string): { text: string; key: string; material: string; entry: string; result: LoadResult | null } | null {
  const looked = lookUpEntry(file);
  if (!looked) return null;
  const { found, ...rest } = looked;
  return { ...rest, result: found && factsHold(found) ? found.result : null };
}

/**
 * The host facts the seed checks depend on: where each seed folder or local git repository
 * really is (symlinks followed) and whether the repository redirects elsewhere. A symlink
 * swapped to point out of the config folder changes them, so the cached answer is not used.
 */
export function hostFacts(config: Config): string {
  const facts: unknown[] = [];
  for (const env of Object.values(config.environments).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const { from, git } = env.workspace;
    if (from !== undefined) facts.push([env.name, 'from', realHostPath(from)]);
    const local = git ? localGitPath(git.url) : null;
    if (local !== null) {
      const real = realHostPath(resolveHostPath(local, config.dir));
      facts.push([env.name, 'git', real, gitRedirect(real)]);
    }
  }
  return JSON.stringify(facts);
}

const factsHold = (entry: Entry): boolean => entry.facts === hostFacts(entry.result.config as Config);
