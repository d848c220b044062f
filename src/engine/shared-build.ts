// The shipped images (the egress proxy, the runtime images) are shared by every project on the
// engine under one tag, sandboxshift/builtin-NAME:ctx-HASH. Two projects that apply at once, both
// finding the tag missing, would both build it: two image IDs under one tag, and the project
// whose containers run the ID the tag left then reads them as changed (its egress proxy made
// again instead of reloaded, connections dropped; an environment replaced). So such a build runs
// under an engine-wide lock per image, and a run that waited for it finds the image made from
// the same context and builds nothing.
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import type { DesiredImage } from '../model/images.js';
import { buildImage } from './build.js';
import { statusCode, type Docker } from './client.js';
import { Labels } from './labels.js';
import { lockWaitMs, waitForLock, type LockInfo } from './lock.js';

/** The lock's pseudo project: `ss._build-NAME.lock` (no project name starts with `_`). */
export function sharedBuildScope(name: string): string {
  return `_build-${name}`;
}

const holderText = (holder: LockInfo | null) => (holder ? `${holder.holder} pid ${holder.pid} (${holder.command}) since ${holder.since}, lock ID ${holder.id}` : 'a run that just gave it back');

/** How long a shared image's build lock is waited for: SANDBOXSHIFT_BUILD_LOCK_WAIT seconds (default 3600: a build may take long). */
export function buildLockWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  return lockWaitMs('SANDBOXSHIFT_BUILD_LOCK_WAIT', 3600, env);
}

/** buildImage for a shared image, under its lock; the ID of the image the tag names after it. */
export async function buildSharedImage(docker: Docker, project: string, image: DesiredImage, onProgress: (line: string) => void): Promise<string> {
  const scope = sharedBuildScope(image.name);
  const waitMs = buildLockWaitMs();
  const timedOut = (holder: LockInfo | null) =>
    new DiagnosticsError([
      errorDiag(`the build lock ss.${scope}.lock of the shared image ${image.ref} is still held after ${waitMs / 1000}s, by ${holderText(holder)}`, {
        hint: `another project is building it: try again later, or wait longer (SANDBOXSHIFT_BUILD_LOCK_WAIT, in seconds). Only if no run on that host is building it any more, remove the lock with \`docker rm -f ss.${scope}.lock\``,
      }),
    ]);
  const lock = await waitForLock(docker, scope, `apply (building ${image.ref})`, waitMs, timedOut, (holder) =>
    onProgress(`waiting for another run that is building ${image.ref}: ${holderText(holder)}`),
  );
  try {
    const made = await builtFromSameContext(docker, image);
    if (made) {
      onProgress(`${image.ref} is already built from the same context (by another run): nothing to build`);
      return made;
    }
    return await buildImage(docker, project, image, onProgress);
  } finally {
    // Neither the build's result nor its error is replaced by a failure to give the lock back.
    await lock
      .release()
      .catch((err: Error) => onProgress(`could not give back the build lock ss.${scope}.lock (${err.message}): another host waits for it until it is removed with \`docker rm -f ss.${scope}.lock\``));
  }
}

/** The ID of the image under the tag when it was built from this very context; null otherwise. */
async function builtFromSameContext(docker: Docker, image: DesiredImage): Promise<string | null> {
  try {
    const info = await docker.getImage(image.ref).inspect();
    return info.Config?.Labels?.[Labels.contextHash] === image.build?.digest.hash ? info.Id : null;
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
}
