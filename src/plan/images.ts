// Image changes: a build is due when the engine lacks the tag that carries the build
// context's hash. The reason names the files that changed since the last build.
import type { DesiredEnvironment } from '../model/desired.js';
import { EGRESS_IMAGE, type DesiredImage } from '../model/images.js';
import type { ObservedImage, ObservedState } from '../model/observed.js';
import { changedFiles } from '../model/build-context.js';
import { imageByRef, parseImageRef, pinnedRef, shortDigest } from '../config/image-ref.js';
import { bareChange, type ImageChange, type Reason } from './types.js';

export function planImage(project: string, image: DesiredImage, observed: ObservedState, users: readonly DesiredEnvironment[]): ImageChange | null {
  if (!image.build) return planPull(image, observed, users);
  if (imageByRef(observed.images, image.ref)) return planPush(image, observed, users);
  return bareChange({
    address: image.address,
    type: 'image',
    name: image.name,
    kind: 'create',
    reasons: [buildReason(project, image, observed)],
    // The proxy image is not a sandbox: the sandbox contract (a /workspace) does not apply to it.
    steps: image.name === EGRESS_IMAGE ? ['build-image'] : ['build-image', 'verify-image', ...(image.build.push ? (['push-image'] as const) : [])],
    ...(image.build.push ? { push: image.build.push.ref } : {}),
    configHash: image.build.digest.hash,
    imageRef: image.ref,
    verify: verifyAs(users),
  });
}

/** Who the contract check runs as: the first environment's user; a version mismatch only if every user accepts it. */
function verifyAs(users: readonly DesiredEnvironment[]): ImageChange['verify'] {
  return { uid: users[0]?.uid ?? 65532, gid: users[0]?.gid ?? 65532, allowContractMismatch: users.length > 0 && users.every((d) => d.allowContractMismatch) };
}

/**
 * A pull is due when the registry was asked (pull: always, or the engine lacks the image) and
 * the engine's image for the reference does not carry the digest the registry named.
 */
function planPull(image: DesiredImage, observed: ObservedState, users: readonly DesiredEnvironment[]): ImageChange | null {
  const remote = observed.registry?.get(image.ref);
  if (!remote?.digest) return null;
  const parsed = parseImageRef(image.ref);
  if (typeof parsed === 'string') return null;
  const pinned = pinnedRef(parsed, remote.digest);
  const local = imageByRef(observed.images, image.ref);
  if (local?.digests?.includes(pinned)) return null;
  const before = local?.digests?.find((d) => d.startsWith(`${parsed.repository}@`));
  const message = local
    ? `image digest changed: ${image.ref} now points to ${shortDigest(remote.digest)} (the engine has ${before ? shortDigest(before.slice(before.indexOf('@') + 1)) : `image ${local.id.slice(7, 19)}`})`
    : `pull ${image.ref} (${shortDigest(remote.digest)}) from ${parsed.registry}`;
  return bareChange({
    address: image.address,
    type: 'image',
    name: image.name,
    kind: 'create',
    reasons: [{ code: 'image_pull', message }],
    steps: ['pull-image', 'verify-image'],
    configHash: remote.digest,
    imageRef: image.ref,
    digest: remote.digest,
    verify: verifyAs(users),
  });
}

/** A built image the engine has, whose `build.push` target the registry lacks: pushed again. */
function planPush(image: DesiredImage, observed: ObservedState, users: readonly DesiredEnvironment[]): ImageChange | null {
  const push = image.build?.push;
  if (!push || observed.registry?.get(push.ref)?.digest !== null) return null;
  return bareChange({
    address: image.address,
    type: 'image',
    name: image.name,
    kind: 'create',
    reasons: [{ code: 'image_push', message: `push ${push.ref}: the registry does not have it yet` }],
    steps: ['push-image'],
    configHash: image.build?.digest.hash ?? null,
    imageRef: image.ref,
    push: push.ref,
    verify: verifyAs(users),
  });
}

function buildReason(project: string, image: DesiredImage, observed: ObservedState): Reason {
  const previous = lastBuild(project, image.name, observed);
  if (!previous) return { code: 'image_build', message: `not built yet (${image.build?.dockerfile} in ${image.builtin ? 'the shipped images/' : image.build?.context})` };
  const files = previous.build?.contextFiles;
  if (!files) return { code: 'image_build', message: 'build context changed' };
  const changed = changedFiles(files, image.build?.digest.files ?? {});
  if (changed.length === 0) return { code: 'image_build', message: 'build arguments or Dockerfile path changed' };
  const shown = changed.slice(0, 5).join(', ');
  return { code: 'image_build', message: `context changed: ${shown}${changed.length > 5 ? ` and ${changed.length - 5} more` : ''}` };
}

function lastBuild(project: string, name: string, observed: ObservedState): ObservedImage | null {
  let best: ObservedImage | null = null;
  for (const img of new Set(observed.images.values())) {
    if (img.build?.project !== project || img.build.image !== name) continue;
    if (!best || img.created > best.created) best = img;
  }
  return best;
}
