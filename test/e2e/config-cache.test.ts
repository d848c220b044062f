// The config cache: a plan answered from it says what a fresh check would, and an edited file,
// or one with errors, is never answered from it.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_STAMP_FILE, computeCodeStamp } from '../../src/config/cache-key.js';
import { CLI, TEST_IMAGE, testProject, type TestProject } from './harness.js';

const config = (envs: string[]) => `version: 1
project: {{project}}
images:
  busybox: { ref: ${TEST_IMAGE} }
defaults:
  image: busybox
environments:
${envs.map((e) => `  ${e}: {}`).join('\n')}
`;

describe('config cache', () => {
  let p: TestProject;
  const cacheDir = mkdtempSync(join(tmpdir(), 'ss-config-cache-'));
  const env = { SANDBOXSHIFT_CACHE_DIR: cacheDir };
  const entries = () => readdirSync(join(cacheDir, 'configs')).filter((n) => n.endsWith('.json'));
  beforeAll(() => {
    p = testProject('cfgcache', config(['one']));
  });
  afterAll(async () => p.cleanup());

  it('keeps one entry per checked text, and a repeated plan says the same', async () => {
    const first = await p.run(['plan'], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('+ environment.one will be created');
    expect(entries()).toHaveLength(1);
    const second = await p.run(['plan'], { env });
    expect(second.stdout).toBe(first.stdout);
    expect(entries()).toHaveLength(1);
  });

  it('the bundled CLI carries the code stamp its own code hashes to, so its entries are the ones a fresh hash would key', async () => {
    const bundle = join(dirname(CLI), '..', 'bundle');
    expect(readFileSync(join(bundle, CODE_STAMP_FILE), 'utf8')).toBe(`${computeCodeStamp(bundle)}\n`);
  });

  it('an edited file is planned from its new text', async () => {
    p.write(config(['one', 'two']));
    const r = await p.run(['plan'], { env });
    expect(r.stdout).toContain('+ environment.two will be created');
    expect(r.stdout).toContain('Plan: 2 to add, 0 to change, 0 to destroy.');
    expect(entries()).toHaveLength(2);
  });

  it('an error is reported with its position every time, never cached', async () => {
    p.write(config(['one']).replace('image: busybox', 'image: busybox\n  runtime: kata'));
    for (let i = 0; i < 2; i++) {
      const r = await p.run(['plan'], { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(":7:12: error: 'runtime' must be one of: runc, runsc (at defaults.runtime)");
    }
    expect(entries()).toHaveLength(2);
  });

  it('a seed folder swapped for a symlink that points out is refused, though the text is the same', async () => {
    const seeded = config(['one']).replace('  one: {}', '  one: { workspace: { from: ./seed } }');
    mkdirSync(join(p.dir, 'seed'));
    p.write(seeded);
    const ok = await p.run(['plan'], { env });
    expect(ok.code, ok.stderr).toBe(0);
    const outside = mkdtempSync(join(tmpdir(), 'ss-outside-'));
    rmSync(join(p.dir, 'seed'), { recursive: true });
    symlinkSync(outside, join(p.dir, 'seed'));
    const refused = await p.run(['plan'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`seeding /workspace from './seed' (${realpathSync(outside)}), outside the config's folder`);
  });
});
