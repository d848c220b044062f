// Checked configs, kept on disk: parsing and checking 1,000 environments of YAML costs about
// 200 ms, and `plan` runs again and again on the same file. An entry is keyed by everything
// the result depends on: the file's text, the path it was named by and its absolute path,
// the home folder (`~/` in host paths), and the content of the checking code itself (this
// folder's modules, the diagnostics module and the YAML parser's version), so an edited file,
// a moved one or a rebuilt SandboxShift never meets an old answer. Only clean results (a
// config, warnings at most) are kept; errors are always worked out afresh.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, validateConfigText, type LoadResult } from './load.js';
import { DEFAULT_CONFIG_FILE, type Config } from './types.js';
import { resolveHostPath } from './build-config.js';
import { realHostPath } from './dangerous-checks.js';
import { gitRedirect, localGitPath } from './git-url.js';

/** Bumped when the entry's layout changes. */
const FORMAT = 1;
/** Entries kept; the least recently written go first. */
const MAX_ENTRIES = 32;

export function configCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.SANDBOXSHIFT_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sandboxshift');
  return join(base, 'configs');
}

/**
 * loadConfig, answered from the cache when the same text was checked before by the same code.
 * SANDBOXSHIFT_NO_CONFIG_CACHE=1 turns it off.
 */
export function loadConfigCached(file: string = DEFAULT_CONFIG_FILE): LoadResult {
  if (process.env.SANDBOXSHIFT_NO_CONFIG_CACHE === '1') return loadConfig(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return loadConfig(file); // it reports the unreadable file with advice
  }
  const key = configCacheKey(file, text);
  const entry = join(configCacheDir(), `${key}.json`);
  const cached = readEntry(entry, key);
  if (cached) return cached;
  const result = validateConfigText(text, file);
  if (result.config) writeEntry(entry, key, result);
  return result;
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

interface Entry {
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
function hostFacts(config: Config): string {
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

function readEntry(path: string, key: string): LoadResult | null {
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

function writeEntry(path: string, key: string, result: LoadResult): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    if (!result.config) return;
    writeFileSync(tmp, JSON.stringify({ key, result, facts: hostFacts(result.config) } satisfies Entry), { mode: 0o600 });
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
