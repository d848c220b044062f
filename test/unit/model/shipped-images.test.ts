// `image: pi` (and the other shipped names) runs the image SandboxShift ships in images/, built on
// first use, unless the config defines the name itself.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateConfigText } from '../../../src/config/index.js';
import { SHIPPED_IMAGE_NAMES } from '../../../src/config/shipped-images.js';
import type { Config } from '../../../src/config/types.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';
import { BUILTIN_IMAGES } from '../../../src/model/images.js';
import { resolveDesired } from '../../../src/model/resolve.js';
import { env } from '../plan/fixtures.js';

const IMAGES = fileURLToPath(new URL('../../../images/', import.meta.url));

describe('shipped images', () => {
  it('every shipped name has a build in images/', () => {
    for (const name of SHIPPED_IMAGE_NAMES) expect(BUILTIN_IMAGES[name]?.build, name).toBeDefined();
  });

  it('pi builds from the staged agent-pi context', () => {
    expect(BUILTIN_IMAGES.pi).toEqual({ name: 'pi', build: { context: join(IMAGES, 'agent-pi/stage/'), dockerfile: 'Dockerfile', args: {} } });
  });

  it('image: pi validates without an images: entry; an unknown name still does not', () => {
    const text = (image: string) => `version: 1\nproject: demo\nenvironments:\n  a: { image: ${image} }\n`;
    expect(validateConfigText(text('pi'), 'sandboxshift.yaml').diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(validateConfigText(text('pii'), 'sandboxshift.yaml').diagnostics.map(formatDiagnostic)).toEqual([
      "sandboxshift.yaml:4:15: error: image 'pii' is not defined under images (at environments.a.image)\n  hint: define 'pii' under images:, or write image: auto",
    ]);
  });

  const config = (dir: string, images: Config['images']): Config => ({
    version: 1,
    project: 'demo',
    file: join(dir, 'sandboxshift.yaml'),
    dir,
    images,
    moved: [],
    environments: { a: env('a', { image: 'pi' }) },
    source: 'literal',
  });

  /** Runs `fn` with the pi image's build context pointed at `context` (the real one is staged by npm, or not). */
  function withPiContext<T>(context: string, fn: () => T): T {
    const real = BUILTIN_IMAGES.pi!;
    BUILTIN_IMAGES.pi = { name: 'pi', build: { ...real.build!, context } };
    try {
      return fn();
    } finally {
      BUILTIN_IMAGES.pi = real;
    }
  }

  it('image: pi resolves to the shared builtin-pi build of the staged context', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-pi-'));
    const stage = mkdtempSync(join(tmpdir(), 'ss-pi-stage-'));
    writeFileSync(join(stage, 'Dockerfile'), 'FROM scratch\n');
    const r = withPiContext(stage, () => resolveDesired(config(dir, {}), { env: {} }));
    expect(r.diagnostics).toEqual([]);
    const image = r.desired.images.get('pi');
    expect(image?.ref).toMatch(/^sandboxshift\/builtin-pi:ctx-[0-9a-f]{12}$/);
    expect([image?.build?.context, image?.build?.dockerfile, image?.builtin]).toEqual([stage, 'Dockerfile', true]);
    expect(r.desired.environments.get('a')?.spec.image).toBe(image?.ref);
  });

  it('image: pi without a staged context is a plan error that says how to stage it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-pi-'));
    const missing = join(dir, 'not-staged/');
    const r = withPiContext(missing, () => resolveDesired(config(dir, {}), { env: {} }));
    expect(r.diagnostics.map((d) => [d.severity, d.message, d.hint])).toEqual([
      ['error', `image 'pi': build context ${missing} does not exist`, 'stage the pi image first: make -C images stage-pi (runs images/agent-pi/stage.sh, which needs npm and its registry)'],
    ]);
  });

  it("the config's own image named pi wins", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-pi-'));
    const r = resolveDesired(config(dir, { pi: { name: 'pi', ref: 'my/pi:1' } }), { env: {} });
    expect(r.desired.images.get('pi')?.ref).toBe('my/pi:1');
  });
});
