// The checked-config cache's key and entry, with no checking code at all: what `exec` needs to
// learn its config's names from an entry (see cache-read.ts for the host-facts side and cache.ts
// for the writer). The code stamp, a hash of the code that checks a config, is worked out once
// at build time for the bundled CLI (scripts/bundle-cli.mjs writes it next to the bundle):
// hashing the whole bundle on every run cost an `exec` about 6 ms. The key itself is a fast
// non-cryptographic hash (text-hash.ts): the entry keeps what it was keyed by (the key material,
// and the text as its config's `source`), and a lookup compares that exactly. node:crypto is
// loaded only when the stamp must be worked out.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfigFile } from './config-file.js';
import type { LoadResult } from './load.js';
import { textHash128 } from './text-hash.js';
import type { Config } from './types.js';

/** Bumped when the entry's layout changes (2: a fast hash names it; it holds its key's material). */
const FORMAT = 2;

/** The precomputed code stamp's file, in the folder whose code it stamps. */
export const CODE_STAMP_FILE = 'code-stamp';

export interface Entry {
  key: string;
  /** What the key hashes besides the text (the config's own `source`): format, code stamp, the file as named and absolute, the home folder. */
  material: string;
  result: LoadResult;
  /** What the checks saw on the host (see hostFacts); the text alone does not decide them. */
  facts: string;
}

export function configCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.SANDBOXSHIFT_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sandboxshift');
  return join(base, 'configs');
}

export function configCacheKey(file: string, text: string): string {
  return textHash128(`${keyMaterial(file)}\0${text}`);
}

/** Everything but the text that an entry's answer depends on. */
export function keyMaterial(file: string): string {
  return JSON.stringify([FORMAT, codeStamp(), file, resolve(file), homedir()]);
}

let stamp: string | undefined;

/** A hash of the code that checks a config: a rebuilt or upgraded SandboxShift misses. */
function codeStamp(): string {
  stamp ??= codeStampOf(dirname(fileURLToPath(import.meta.url)));
  return stamp;
}

/** The stamp written at build time in `dir` when there is one, else worked out now. */
export function codeStampOf(dir: string): string {
  try {
    const written = readFileSync(join(dir, CODE_STAMP_FILE), 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(written)) return written;
  } catch {
    // not a bundled build: hash the code now
  }
  return computeCodeStamp(dir);
}

/** The code in `dir` (and its generated/ folder), the diagnostics module and the YAML parser's version. */
export function computeCodeStamp(dir: string): string {
  // Required here, not imported at the top: the short paths of exec and cp never need it.
  const { createHash } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  const hash = createHash('sha256');
  const add = (path: string) => hash.update(path).update('\0').update(readFileSync(path)).update('\0');
  for (const folder of [dir, join(dir, 'generated')]) {
    let names: string[];
    try {
      names = readdirSync(folder)
        .filter((n) => /\.(js|mjs|cjs|ts)$/.test(n) && !n.endsWith('.d.ts'))
        .sort();
    } catch {
      continue; // no generated/ folder next to a bundled build
    }
    for (const name of names) add(join(folder, name));
  }
  for (const sibling of ['../diagnostics.js', '../diagnostics.ts']) {
    try {
      add(join(dir, sibling));
    } catch {
      // only one of the two exists (built or source tree)
    }
  }
  const yamlVersion = (createRequire(import.meta.url)('yaml/package.json') as { version: string }).version;
  return hash.update(`yaml@${yamlVersion}`).digest('hex');
}

/**
 * The config file's text, its key, key material and entry path, and the entry (host facts not yet
 * compared); null when the cache is off or the file cannot be used (not a regular file, too large,
 * not UTF-8, unreadable: the full loader reports why, and a FIFO is never waited on).
 */
export function lookUpEntry(file: string): { text: string; key: string; material: string; entry: string; found: Entry | null } | null {
  if (process.env.SANDBOXSHIFT_NO_CONFIG_CACHE === '1') return null;
  const { text } = readConfigFile(file);
  if (text === undefined) return null;
  const material = keyMaterial(file);
  const key = textHash128(`${material}\0${text}`);
  const entry = join(configCacheDir(), `${key}.json`);
  return { text, key, material, entry, found: parseEntry(entry, { key, material }, text) };
}

/** The entry at `path` when it is the one for exactly this key, material and text, with a config; its host facts are the caller's to compare. */
export function parseEntry(path: string, want: Pick<Entry, 'key' | 'material'>, text: string): Entry | null {
  let stored: string;
  try {
    stored = readFileSync(path, 'utf8');
  } catch {
    return null; // not checked before
  }
  try {
    const entry = JSON.parse(stored) as Entry;
    const same = entry.key === want.key && entry.material === want.material && entry.result?.config?.source === text;
    return same ? entry : null;
  } catch {
    return null; // a torn or foreign file: checked afresh and written again
  }
}

/** No environment seeds from a host folder or a git repository: the host facts are empty. */
export function noHostFacts(config: Config): boolean {
  return Object.values(config.environments).every((env) => env.workspace.from === undefined && !env.workspace.git);
}

/**
 * The config from its cache entry when no host facts need checking, for the short paths of
 * `exec`, `shell` and `cp` (src/cli/short-path.ts); null otherwise, and the full loader (which
 * compares those facts, or checks the file afresh) answers instead.
 */
export function quickCachedConfig(path: string): Config | null {
  const found = lookUpEntry(path)?.found;
  const config = found?.result.config;
  return config && noHostFacts(config) && found.facts === '[]' ? config : null;
}
