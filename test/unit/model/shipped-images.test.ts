// `image: pi` (and the other shipped names) runs the image SandboxShift ships in images/, built on
// first use, unless the config defines the name itself.
import { mkdtempSync } from 'node:fs';
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

  it('image: pi resolves to the shared builtin-pi build when the context is staged, else says how to stage it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-pi-'));
    const r = resolveDesired(config(dir, {}), { env: {} });
    const staged = BUILTIN_IMAGES.pi!.build!.context;
    const image = r.desired.images.get('pi');
    if (image) {
      expect(r.diagnostics).toEqual([]);
      expect(image.ref).toMatch(/^sandboxshift\/builtin-pi:ctx-[0-9a-f]{12}$/);
      expect(image.build?.context).toBe(staged);
    } else {
      expect(r.diagnostics.map((d) => [d.message, d.hint])).toEqual([
        [`image 'pi': build context ${staged} does not exist`, 'stage the pi image first: make -C images stage-pi (runs images/agent-pi/stage.sh, which needs npm and its registry)'],
      ]);
    }
  });

  it("the config's own image named pi wins", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-pi-'));
    const r = resolveDesired(config(dir, { pi: { name: 'pi', ref: 'my/pi:1' } }), { env: {} });
    expect(r.desired.images.get('pi')?.ref).toBe('my/pi:1');
  });
});
