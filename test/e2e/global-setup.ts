// Fails the whole run loudly when the engine or the build is missing: the tests that matter
// run against a real Docker engine, and none of them may quietly pass without one.
import { existsSync } from 'node:fs';
import Docker from 'dockerode';

export default async function setup(): Promise<void> {
  if (!existsSync(new URL('../../dist/cli/main.js', import.meta.url))) {
    throw new Error('dist/ is missing: run `npm test` (it builds first) or `npm run build`.');
  }
  try {
    await new Docker().ping();
  } catch (err) {
    throw new Error(`No Docker engine answers (${(err as Error).message}). The end-to-end tests need one: run \`npm test\` (its pretest starts one as root on Debian) or \`npm run setup\`.`, {
      cause: err,
    });
  }
}
