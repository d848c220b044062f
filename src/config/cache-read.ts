// The read side of the checked-config cache (see cache.ts): the key, and the entry when there is
// one. Kept apart from the checking code, which a cache hit never runs, so a command that only
// needs the config's names (`exec`) loads neither the schema validator nor the checks.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './load.js';
import type { Config } from './types.js';
import { resolveHostPath } from './build-config.js';
import { realHostPath } from './dangerous-checks.js';
import { gitRedirect, localGitPath } from './git-url.js';

/** Bumped when the entry's layout changes. */
const FORMAT = 1;
/** Entries kept; the least recently written go first. */
export const MAX_ENTRIES = 32;

export function configCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.SANDBOXSHIFT_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sandboxshift');
  return join(base, 'configs');
}

/**
 * The cache's answer for `file` (result null on a miss), or null when the cache is off
 * (SANDBOXSHIFT_NO_CONFIG_CACHE=1) or the file cannot be read (the full loader reports that).
 */
export function cachedConfig(file: string): { text: string; key: string; entry: string; result: LoadResult | null } | null {
  if (process.env.SANDBOXSHIFT_NO_CONFIG_CACHE === '1') return null;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const key = configCacheKey(file, text);
  const entry = join(configCacheDir(), `${key}.json`);
  return { text, key, entry, result: readEntry(entry, key) };
}

export function configCacheKey(file: string, text: string): string {
  return createHash('sha256')
    .update(JSON.stringify([FORMAT, codeStamp(), file, resolve(file), homedir()]))
    .update('\0')
    .update(text)
    .digest('hex');
}

let stamp: string | undefined;

/** A hash of the code that checks a config: a rebuilt or upgraded SandboxShift misses. */
function codeStamp(): string {
  if (stamp !== undefined) return stamp;
  const here = dirname(fileURLToPath(import.meta.url));
  const hash = createHash('sha256');
  const add = (path: string) => hash.update(path).update('\0').update(readFileSync(path)).update('\0');
  for (const dir of [here, join(here, 'generated')]) {
    let names: string[];
    try {
      names = readdirSync(dir)
        .filter((n) => /\.(js|mjs|ts)$/.test(n) && !n.endsWith('.d.ts'))
        .sort();
    } catch {
      continue; // no generated/ folder next to a bundled build
    }
    for (const name of names) add(join(dir, name));
  }
  for (const sibling of ['../diagnostics.js', '../diagnostics.ts']) {
    try {
      add(join(here, sibling));
    } catch {
      // only one of the two exists (built or source tree)
    }
  }
  const yamlVersion = (createRequire(import.meta.url)('yaml/package.json') as { version: string }).version;
  stamp = hash.update(`yaml@${yamlVersion}`).digest('hex');
  return stamp;
}

export interface Entry {
  key: string;
  result: LoadResult;
  /** What the checks saw on the host (see hostFacts); the text alone does not decide them. */
  facts: string;
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

export function readEntry(path: string, key: string): LoadResult | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null; // not checked before
  }
  try {
    const entry = JSON.parse(text) as Entry;
    if (entry.key !== key || !entry.result?.config) return null;
    return entry.facts === hostFacts(entry.result.config) ? entry.result : null;
  } catch {
    return null; // a torn or foreign file: checked afresh and written again
  }
}
