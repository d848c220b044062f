import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configCacheDir, configCacheKey, loadConfig, loadConfigCached } from '../../../src/config/index.js';
import { CODE_STAMP_FILE, codeStampOf, computeCodeStamp } from '../../../src/config/cache-key.js';
import { textHash128 } from '../../../src/config/text-hash.js';

const FULL = fileURLToPath(new URL('../../fixtures/config/full.yaml', import.meta.url));

describe('loadConfigCached', () => {
  let saved: string | undefined;
  let work: string;
  beforeEach(() => {
    saved = process.env.SANDBOXSHIFT_CACHE_DIR;
    work = mkdtempSync(join(tmpdir(), 'sandboxshift-cache-'));
    process.env.SANDBOXSHIFT_CACHE_DIR = join(work, 'cache');
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.SANDBOXSHIFT_CACHE_DIR;
    else process.env.SANDBOXSHIFT_CACHE_DIR = saved;
  });
  const entries = () => readdirSync(configCacheDir()).filter((n) => n.endsWith('.json'));

  it('answers a second load from one entry, equal to a fresh check', () => {
    const file = join(work, 'sandboxshift.yaml');
    copyFileSync(FULL, file);
    const fresh = loadConfig(file);
    expect(fresh.config?.project).toBeTruthy();

    const first = loadConfigCached(file);
    expect(entries()).toEqual([`${configCacheKey(file, readFileSync(file, 'utf8'))}.json`]);
    const second = loadConfigCached(file);
    // Strict: a JSON round trip must not drop or change anything the rest of the code reads.
    expect(first).toStrictEqual(fresh);
    expect(second).toStrictEqual(fresh);
  });

  it('keeps warnings with the config', () => {
    const file = join(work, 'sandboxshift.yaml');
    writeFileSync(file, 'version: 1\nproject: demo\nenvironments: {}\n');
    const fresh = loadConfig(file);
    expect(fresh.diagnostics.map((d) => `${d.severity}: ${d.message}`)).toEqual(['warning: no environments are defined: plan and apply will have nothing to do']);
    loadConfigCached(file);
    expect(entries()).toHaveLength(1);
    expect(loadConfigCached(file)).toStrictEqual(fresh);
  });

  it('an edited file is checked afresh, and so is the same text named by another path', () => {
    const file = join(work, 'sandboxshift.yaml');
    writeFileSync(file, 'version: 1\nproject: demo\nenvironments:\n  a: {}\n');
    expect(Object.keys(loadConfigCached(file).config?.environments ?? {})).toEqual(['a']);
    writeFileSync(file, 'version: 1\nproject: demo\nenvironments:\n  a: {}\n  b: {}\n');
    expect(Object.keys(loadConfigCached(file).config?.environments ?? {})).toEqual(['a', 'b']);

    const other = join(work, 'other.yaml');
    copyFileSync(file, other);
    expect(loadConfigCached(other).config?.file).toBe(other);
    expect(entries()).toHaveLength(3);
  });

  it('never keeps a config with errors: each load reports them afresh', () => {
    const file = join(work, 'sandboxshift.yaml');
    writeFileSync(file, 'version: 1\nproject: demo\nenvironments:\n  a: {runtime: kata}\n');
    for (let i = 0; i < 2; i++) {
      const { config, diagnostics } = loadConfigCached(file);
      expect(config).toBeUndefined();
      expect(diagnostics.map((d) => d.message)).toEqual(["'runtime' must be one of: runc, runsc"]);
    }
    expect(readdirSync(work)).not.toContain('cache');
  });

  it('the second load reads the entry, not the file', () => {
    const file = join(work, 'sandboxshift.yaml');
    writeFileSync(file, 'version: 1\nproject: demo\nenvironments:\n  a: {}\n');
    loadConfigCached(file);
    const path = join(configCacheDir(), entries()[0]!);
    const entry = JSON.parse(readFileSync(path, 'utf8'));
    entry.result.config.project = 'marked';
    writeFileSync(path, JSON.stringify(entry));
    expect(loadConfigCached(file).config?.project).toBe('marked');
  });

  // The file name is a fast non-cryptographic hash: an entry is used only for the exact text and
  // key material it holds, so one that shares its name with another text is never its answer.
  it('an entry under the right name but for another text, or another path, code or home, is a miss and is replaced', () => {
    const file = join(work, 'sandboxshift.yaml');
    writeFileSync(file, 'version: 1\nproject: demo\nenvironments:\n  a: {}\n');
    loadConfigCached(file);
    const path = join(configCacheDir(), entries()[0]!);
    const good = JSON.parse(readFileSync(path, 'utf8'));
    expect(good.result.config.source).toBe(readFileSync(file, 'utf8'));
    expect(JSON.parse(good.material)).toEqual([2, expect.stringMatching(/^[0-9a-f]{64}$/), file, file, homedir()]);
    const forged = (change: (entry: typeof good) => void) => {
      const entry = structuredClone(good);
      entry.result.config.project = 'forged';
      change(entry);
      writeFileSync(path, JSON.stringify(entry));
      return loadConfigCached(file).config?.project;
    };
    expect(forged(() => undefined)).toBe('forged'); // the forge itself is read when all matches
    expect(forged((e) => (e.result.config.source = 'version: 1\nproject: forged\nenvironments:\n  a: {}\n'))).toBe('demo');
    expect(JSON.parse(readFileSync(path, 'utf8')).result.config.project).toBe('demo');
    expect(forged((e) => (e.material = e.material.replace(file, join(work, 'elsewhere.yaml'))))).toBe('demo');
    expect(forged((e) => delete e.result.config.source)).toBe('demo');
    expect(forged((e) => delete e.material)).toBe('demo');
  });

  it('a damaged entry is replaced by a fresh check', () => {
    const file = join(work, 'sandboxshift.yaml');
    writeFileSync(file, 'version: 1\nproject: demo\nenvironments:\n  a: {}\n');
    loadConfigCached(file);
    const [entry] = entries();
    writeFileSync(join(configCacheDir(), entry!), '{"key": "tor');
    expect(loadConfigCached(file).config?.project).toBe('demo');
    expect(JSON.parse(readFileSync(join(configCacheDir(), entry!), 'utf8')).result.config.project).toBe('demo');
  });

  it('keeps at most 32 entries', () => {
    const file = join(work, 'sandboxshift.yaml');
    for (let i = 0; i < 34; i++) {
      writeFileSync(file, `version: 1\nproject: demo-${i}\nenvironments:\n  a: {}\n`);
      loadConfigCached(file);
    }
    expect(entries()).toHaveLength(32);
  });
});

// The bundled CLI carries its code stamp in a file written at build time; other builds hash their code.
describe('codeStampOf', () => {
  it('hashes the folder when there is no stamp file, and reads the file when there is one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandboxshift-stamp-'));
    writeFileSync(join(dir, 'a.js'), 'export const a = 1;\n');
    const hashed = codeStampOf(dir);
    expect(hashed).toBe(computeCodeStamp(dir));
    writeFileSync(join(dir, 'a.js'), 'export const a = 2;\n');
    expect(codeStampOf(dir)).not.toBe(hashed);

    writeFileSync(join(dir, CODE_STAMP_FILE), `${'ab'.repeat(32)}\n`);
    expect(codeStampOf(dir)).toBe('ab'.repeat(32));
    // Not a stamp: the code is hashed as if there were none.
    writeFileSync(join(dir, CODE_STAMP_FILE), 'not a stamp\n');
    expect(codeStampOf(dir)).toBe(computeCodeStamp(dir));
  });
});

describe('textHash128 (the cache entry names)', () => {
  it('gives 32 hex digits, the same for the same text, and another for a text one character apart', () => {
    const texts = ['', 'a', 'b', 'ab', 'ba', 'version: 1\n', 'version: 2\n', 'é', '\u{1F600}', 'x'.repeat(100_000)];
    const hashes = texts.map(textHash128);
    for (const h of hashes) expect(h).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(hashes).size).toBe(texts.length);
    expect(texts.map(textHash128)).toEqual(hashes);
  });

  it('spreads 20,000 near-identical texts over distinct names, and each 32-bit lane over both halves', () => {
    const hashes = Array.from({ length: 20_000 }, (_, i) => textHash128(`version: 1\nproject: p${i}\n`));
    expect(new Set(hashes).size).toBe(hashes.length);
    for (let lane = 0; lane < 4; lane++) {
      const high = hashes.filter((h) => parseInt(h.slice(lane * 8, lane * 8 + 1), 16) >= 8).length;
      expect(high / hashes.length).toBeGreaterThan(0.45);
      expect(high / hashes.length).toBeLessThan(0.55);
    }
  });
});
