// The image locks and records are created from (never started): a tiny image of one empty
// file, imported through the API, so no registry and no build. Here rather than in lock.ts,
// which cp's short path must not load (it needs node:crypto); tar-stream is loaded only when the
// image must be imported.
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { statusCode, type Docker } from './client.js';
import { engineFlavour } from './flavour.js';

export const LOCK_IMAGE = 'sandboxshift/lock:1';

export async function ensureLockImage(engine: Docker): Promise<void> {
  try {
    await engine.getImage(LOCK_IMAGE).inspect();
    return;
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
  // Loaded here: the short path of cp reaches this only when the engine lacks the image.
  const { pack } = await import('tar-stream');
  const p = pack();
  p.entry({ name: 'lock', mode: 0o644, mtime: new Date(0) }, 'sandboxshift lock placeholder; never runs\n');
  p.finalize();
  const [repo, tag] = LOCK_IMAGE.split(':');
  // Podman 4.3 ignores `tag` on import (it names the image `:latest`); the tag in `repo` it keeps.
  const name = (await engineFlavour(engine)) === 'podman' ? { repo: LOCK_IMAGE } : { repo, tag };
  const stream = await engine.importImage(p as unknown as NodeJS.ReadableStream, name);
  await new Promise<void>((resolve, reject) => engine.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
  try {
    await engine.getImage(LOCK_IMAGE).inspect();
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
    throw new DiagnosticsError([
      errorDiag(`the engine imported the lock image but does not know it as ${LOCK_IMAGE}`, {
        hint: `this engine names imported images differently; tag the newest image as ${LOCK_IMAGE} (docker tag IMAGE ${LOCK_IMAGE}) and run the command again`,
      }),
    ]);
  }
}
