import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

describe('loadConfig', () => {
  it('a missing file is one error with advice', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sandboxshift-config-')), 'sandboxshift.yaml');
    const { config, diagnostics } = loadConfig(file);

    expect(config).toBeUndefined();
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      `${file}: error: config file '${file}' does not exist\n  hint: create sandboxshift.yaml here (see examples/), or pass --config PATH to use another file`,
    ]);
  });

  it('a folder instead of a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandboxshift-config-'));
    const { diagnostics } = loadConfig(dir);

    expect(diagnostics.map(formatDiagnostic)).toEqual([`${dir}: error: '${dir}' is a folder, not a config file\n  hint: pass --config ${dir}/sandboxshift.yaml`]);
  });

  it('names the file as given in diagnostics', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandboxshift-config-'));
    const file = join(dir, 'custom.yaml');
    writeFileSync(file, 'version: 1\nproject: demo\nenvironments:\n  a: {runtime: kata}\n');

    expect(loadConfig(file).diagnostics.map(formatDiagnostic)).toEqual([`${file}:4:16: error: 'runtime' must be one of: runc, runsc (at environments.a.runtime)`]);
  });
});

/** Every `*.yaml` file under `dir`, searched recursively. */
function yamlFilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFilesUnder(path);
    return entry.name.endsWith('.yaml') ? [path] : [];
  });
}

describe('shipped configs validate', () => {
  const files = [...yamlFilesUnder(join(repoRoot, 'examples')), join(repoRoot, 'sandboxshift.yaml')].filter((f) => existsSync(f));
  // Examples and the quickstart are written separately; when there are none yet, the fixture keeps this test meaningful.
  files.push(fileURLToPath(new URL('../../fixtures/config/full.yaml', import.meta.url)));

  it.each(files)('%s has no errors or warnings', (file) => {
    const { config, diagnostics } = loadConfig(file);
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(config?.file).toBe(file);
  });
});
