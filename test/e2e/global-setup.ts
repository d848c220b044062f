// Fails the whole run loudly when the engine or the build is missing: the tests that matter
// run against a real Docker engine, and none of them may quietly pass without one.
import { existsSync } from 'node:fs';
import Docker from 'dockerode';
import type { Config } from '../../src/config/types.js';

/**
 * The egress proxy's image is shared by every project on the engine and built on first use.
 * Test files run in parallel; projects that find it missing at once build it one after the other
 * under its build lock (src/engine/shared-build.ts, tested in shared-build.test.ts), and every
 * file that applies egress would wait a minute for the first build. Built once here instead,
 * with the CLI's own build code, before any test file starts.
 */
async function buildEgressImage(docker: Docker): Promise<void> {
  const { BUILTIN_IMAGES, EGRESS_IMAGE, desiredImage } = (await import(new URL('../../dist/model/images.js', import.meta.url).href)) as typeof import('../../src/model/images.js');
  const { buildImage } = (await import(new URL('../../dist/engine/build.js', import.meta.url).href)) as typeof import('../../src/engine/build.js');
  const egress = BUILTIN_IMAGES[EGRESS_IMAGE];
  if (!egress) throw new Error(`no built-in image ${EGRESS_IMAGE}`);
  const image = desiredImage({ project: 'e2e-setup' } as Config, egress, true);
  const present = await docker
    .getImage(image.ref)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  if (!present) await buildImage(docker, 'e2e-setup', image, () => undefined);
}

export default async function setup(): Promise<void> {
  if (!existsSync(new URL('../../dist/cli/main.js', import.meta.url))) {
    throw new Error('dist/ is missing: run `npm test` (it builds first) or `npm run build`.');
  }
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(`No Docker engine answers (${(err as Error).message}). The end-to-end tests need one: run \`npm test\` (its pretest starts one as root on Debian) or \`npm run setup\`.`, {
      cause: err,
    });
  }
  await buildEgressImage(docker);
}
