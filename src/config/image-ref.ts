// Image references, parsed the way Docker reads them: `[REGISTRY/]PATH[:TAG][@sha256:HEX]`.
// The registry is the first component when it has a '.' or ':' or is `localhost`; otherwise
// the image is on Docker Hub.

export interface ImageRef {
  /** The registry host[:port], `docker.io` for Docker Hub. */
  registry: string;
  /** Repository as written, without tag or digest (e.g. `127.0.0.1:5000/team/app`). */
  repository: string;
  tag: string | null;
  digest: string | null;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** The parsed reference, or why it is not one (a message naming the bad part). */
export function parseImageRef(ref: string): ImageRef | string {
  let rest = ref;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return `digest '${digest}' is not sha256: followed by 64 lowercase hex digits`;
  }
  let tag: string | null = null;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return `tag '${tag}' is not a valid tag (letters, digits, '_', '.', '-', at most 128)`;
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  if (parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost')) {
    registry = parts.shift()!;
    if (!HOST.test(registry)) return `registry '${registry}' is not a host[:port]`;
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) return `repository '${rest}' must be lowercase letters, digits and separators ('.', '_', '-', '/')`;
  return { registry, repository: rest, tag, digest };
}

/** `REPO@DIGEST`: what the engine pulls so that exactly the planned content arrives. */
export function pinnedRef(ref: ImageRef, digest: string): string {
  return `${ref.repository}@${digest}`;
}

/**
 * The name the engine knows a reference by. `REPO:TAG@DIGEST` names the digest alone: Docker
 * pulls it by digest and tags nothing, Podman drops the tag from a container's image, and both
 * list the image under `REPO@DIGEST`. Any other reference is returned as written.
 */
export function engineRef(ref: string): string {
  const parsed = parseImageRef(ref);
  return typeof parsed !== 'string' && parsed.tag !== null && parsed.digest !== null ? pinnedRef(parsed, parsed.digest) : ref;
}

/** The engine's image for a reference: by the reference as written, else by the name the engine knows it by (engineRef). */
export function imageByRef<T>(images: ReadonlyMap<string, T>, ref: string): T | undefined {
  return images.get(ref) ?? images.get(engineRef(ref));
}

export function shortDigest(digest: string): string {
  return digest.startsWith('sha256:') ? `sha256:${digest.slice(7, 19)}` : digest;
}
