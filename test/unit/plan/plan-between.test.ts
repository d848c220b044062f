// planBetween: the engine-free plan `diff` prints, from one config text to another.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfigText, type Config } from '../../../src/config/index.js';
import { DiagnosticsError, formatDiagnostic } from '../../../src/diagnostics.js';
import { planBetween } from '../../../src/app/pipeline.js';

const dir = mkdtempSync(join(tmpdir(), 'ss-between-'));
const file = join(dir, 'sandboxshift.yaml');

function config(yaml: string): Config {
  const r = validateConfigText(yaml, file);
  if (!r.config) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return r.config;
}

const base = (project: string, envs: string) => `version: 1
project: ${project}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
${envs}`;

describe('planBetween', () => {
  it('finds nothing to do between equal configs, unset secrets and allow lists included', () => {
    const text = base('demo', '  a:\n    image: busybox\n    secrets: { k: { fromEnv: SS_TEST_UNSET_SECRET } }\n    egress: { allow: [pypi.org] }\n');
    const p = planBetween(config(text), config(text));
    expect(p.diagnostics).toEqual([]);
    expect(p.changes.map((c) => c.kind)).toEqual(['no-op']);
    expect(p.engineVersion).toBe('none');
  });

  it('takes a runtime and an image only the new config uses as offered', () => {
    const from = config(base('demo', '  a: { image: busybox }\n'));
    const to = config(`${base('demo', '  a: { image: other, runtime: runsc }\n')}`.replace('images:\n', 'images:\n  other: { ref: example/other:1 }\n'));
    const p = planBetween(from, to);
    expect(p.diagnostics).toEqual([]);
    expect(p.changes[0]!.reasons.map((r) => r.message)).toEqual(['image changed: sandboxshift/busybox:test → example/other:1', 'runtime changed: runc → runsc']);
  });

  it('plans a renamed project from nothing, and warns that the old one stays', () => {
    const p = planBetween(config(base('old', '  a: { image: busybox }\n')), config(base('new', '  a: { image: busybox }\n')), { from: 'main:sandboxshift.yaml', to: 'sandboxshift.yaml' });
    expect(p.changes.map((c) => [c.address, c.kind, c.type === 'environment' ? c.containerName : null])).toEqual([['environment.a', 'create', 'ss.new.a']]);
    expect(p.diagnostics.map(formatDiagnostic)).toEqual([
      "sandboxshift.yaml: warning: project renamed from 'old' to 'new': apply creates every environment under the new name and leaves 'old' running, with its workspace volumes (at project)\n  hint: destroy the old project with the previous config first (sandboxshift destroy), or keep the name",
    ]);
  });

  it('names the side a build-context problem comes from', () => {
    const from = config(base('demo', '  a: { image: app }\n').replace('images:\n', 'images:\n  app: { build: { context: ./gone } }\n'));
    const to = config(base('demo', '  a: { image: busybox }\n'));
    let error: unknown;
    try {
      planBetween(from, to, { from: 'main:sandboxshift.yaml', to: 'sandboxshift.yaml' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DiagnosticsError);
    const [d] = (error as DiagnosticsError).diagnostics;
    expect(d!.file).toBe('main:sandboxshift.yaml');
    expect(d!.message).toBe(`image 'app': build context ${join(dir, 'gone')} does not exist`);
    expect(d!.hint).toContain('diff reads build contexts from the working tree, for both commits');
  });
});
