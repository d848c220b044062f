// The registry, through the engine: the digest a reference names now (GET /distribution/NAME/json,
// which reads the manifest without pulling) and the pull of exactly that digest. Credentials go
// only into the X-Registry-Auth header; every message here is built from the engine's answer
// with any credential scrubbed out.
import { parseImageRef } from '../config/image-ref.js';
import type { RegistryAuth } from '../model/pull-auth.js';
import { statusCode, type Docker } from './client.js';
import { engineFlavour } from './flavour.js';
import { isLoopback } from './registry-host.js';

export type RegistryProblemKind = 'unreachable' | 'unauthorized' | 'missing' | 'error';

export interface RegistryProblem {
  kind: RegistryProblemKind;
  /** The engine's words, without credentials. */
  detail: string;
}

/** The manifest digest `ref` names on its registry now, or why the registry did not say. */
export async function remoteDigest(docker: Docker, ref: string, auth: RegistryAuth | null): Promise<{ digest: string } | RegistryProblem> {
  try {
    const answer = (await docker.getImage(ref).distribution(auth ? { authconfig: auth } : {})) as { Descriptor?: { digest?: string } };
    const digest = answer.Descriptor?.digest;
    if (!digest) return { kind: 'error', detail: 'the engine returned no digest' };
    return { digest };
  } catch (err) {
    return classify(err, auth);
  }
}

export function classify(err: unknown, auth: RegistryAuth | null): RegistryProblem {
  const raw = String((err as { json?: { message?: string } }).json?.message ?? (err as Error).message ?? err);
  const detail = scrub(raw, auth);
  const code = statusCode(err);
  if (code === 401 || code === 403 || /unauthori[sz]ed|authentication required|no basic auth credentials|denied/i.test(raw)) return { kind: 'unauthorized', detail };
  if (code === 404 || /manifest unknown|not found/i.test(raw)) return { kind: 'missing', detail };
  if (/connection refused|no such host|i\/o timeout|dial tcp|connection reset|EOF|server gave HTTP response to HTTPS/i.test(raw)) return { kind: 'unreachable', detail };
  return { kind: 'error', detail };
}

/** Never let a credential through, whatever the engine echoes. */
export function scrub(text: string, auth: RegistryAuth | null): string {
  if (!auth) return text;
  let out = text;
  for (const secret of [auth.password, Buffer.from(`${auth.username}:${auth.password}`).toString('base64')]) {
    if (secret.length > 0) out = out.split(secret).join('[hidden]');
  }
  return out;
}

/**
 * Pulls `REPO@DIGEST` (so exactly the planned content arrives, whatever the tag points at now),
 * then tags it as `tagRef` when the reference has a tag. Throws an Error with a scrubbed message:
 * an error the engine reports inside its progress stream (after answering 200) included.
 */
export async function pullDigest(docker: Docker, repository: string, digest: string, tagRef: string | null, auth: RegistryAuth | null, onLine: (line: string) => void): Promise<string> {
  const pinned = `${repository}@${digest}`;
  const podman = (await engineFlavour(docker)) === 'podman';
  // Podman names a Docker Hub image in full (docker.io/library/...): asked for exactly that.
  const qualified = podman ? `${qualifiedRepository(repository)}@${digest}` : pinned;
  try {
    const stream = podman ? await podmanPull(docker, qualified, auth) : auth ? await docker.createImage(auth, { fromImage: pinned }) : await docker.createImage({ fromImage: pinned });
    await followStream(docker, stream, (event) => {
      const text = event.status ?? event.stream?.trim();
      if (text && !text.startsWith('Downloading') && !text.startsWith('Extracting')) onLine(scrub(`${event.id ? `${event.id}: ` : ''}${text}`, auth));
    });
  } catch (err) {
    const p = classify(err, auth);
    // The engine's error is not attached: only its scrubbed words leave this function.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`pull ${pinned} failed (${p.kind}): ${p.detail}`);
  }
  const info = await docker.getImage(qualified).inspect();
  if (!(info.RepoDigests ?? []).includes(qualified)) {
    throw new Error(`digest mismatch: the engine pulled ${pinned} but the image it has carries ${(info.RepoDigests ?? []).join(', ') || 'no digest'}; nothing was created on it`);
  }
  if (tagRef) {
    const colon = tagRef.lastIndexOf(':');
    await docker.getImage(info.Id).tag({ repo: tagRef.slice(0, colon), tag: tagRef.slice(colon + 1) });
  }
  return info.Id;
}

/**
 * Tags the local image `localRef` as `pushRef` (REPO:TAG) and pushes it; returns the digest the
 * registry stored. Throws an Error with a scrubbed message.
 */
export async function pushImage(docker: Docker, localRef: string, pushRef: string, auth: RegistryAuth | null, onLine: (line: string) => void): Promise<string> {
  const colon = pushRef.lastIndexOf(':');
  const [repo, tag] = [pushRef.slice(0, colon), pushRef.slice(colon + 1)];
  await docker.getImage(localRef).tag({ repo, tag });
  let digest: string | null = null;
  try {
    // Podman's push, like its pull, requires TLS of a loopback registry too: Docker's rule instead.
    const parsed = parseImageRef(pushRef);
    const plainHttp = (await engineFlavour(docker)) === 'podman' && typeof parsed !== 'string' && isLoopback(parsed.registry);
    const stream = await docker.getImage(pushRef).push({ ...(auth ? { authconfig: auth } : {}), ...(plainHttp ? { tlsVerify: false } : {}) });
    await followStream(docker, stream, (event) => {
      // Docker gives the digest in `aux`; Podman only in its status line (`TAG: digest: sha256:... size: N`).
      if (event.aux?.Digest) digest = event.aux.Digest;
      else digest ??= /^\S+: digest: (sha256:[0-9a-f]{64}) size: \d+$/.exec(event.status ?? '')?.[1] ?? null;
      if (event.status && !event.status.startsWith('Pushing')) onLine(scrub(`${event.id ? `${event.id}: ` : ''}${event.status}`, auth));
    });
  } catch (err) {
    const p = classify(err, auth);
    // The engine's error is not attached: only its scrubbed words leave this function.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`push ${pushRef} failed (${p.kind}): ${p.detail}`);
  }
  if (!digest) throw new Error(`push ${pushRef}: the engine reported no digest`);
  return digest;
}

/** A line of a pull's or push's progress: Docker's (status, id; aux at a push's end) or Podman's libpod (stream; images, id at the end); error on failure. */
interface ProgressEvent {
  status?: string;
  stream?: string;
  id?: string;
  aux?: { Digest?: string };
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Reads a progress stream to its end. The engine answers 200 before the work starts, so a failure
 * after that (a registry that refuses, a layer it lost) is only a line in the stream: the first
 * such line is the error this rejects with, once the stream ends.
 */
function followStream(docker: Docker, stream: NodeJS.ReadableStream, onEvent: (event: ProgressEvent) => void): Promise<void> {
  let failure: string | null = null;
  return new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : failure !== null ? reject(new Error(failure)) : resolve()),
      (event: ProgressEvent) => {
        const error = event.errorDetail?.message ?? event.error;
        if (error) failure ??= error;
        onEvent(event);
      },
    ),
  );
}

/**
 * A Docker Hub repository as Podman names it (`alpine` → `docker.io/library/alpine`,
 * `team/app` → `docker.io/team/app`), so its pull never resolves a short name through the
 * host's search registries (which would offer the pullSecret to each of them); others as written.
 */
export function qualifiedRepository(repository: string): string {
  const parsed = parseImageRef(repository);
  if (typeof parsed === 'string' || parsed.registry !== 'docker.io' || repository.startsWith('docker.io/')) return repository;
  return `docker.io/${repository.includes('/') ? '' : 'library/'}${repository}`;
}

/**
 * Podman's own pull (POST /libpod/images/pull): its Docker-compatible one has no way to reach a
 * registry without TLS, and Docker pulls from a loopback registry over plain HTTP. So, as Docker
 * does, TLS is required of every registry but a loopback one (127.0.0.0/8, localhost, ::1).
 */
function podmanPull(docker: Docker, reference: string, auth: RegistryAuth | null): Promise<NodeJS.ReadableStream> {
  const parsed = parseImageRef(reference);
  const loopback = typeof parsed !== 'string' && isLoopback(parsed.registry);
  return new Promise((resolve, reject) =>
    docker.modem.dial(
      {
        path: '/v4.0.0/libpod/images/pull?',
        method: 'POST',
        options: { reference, tlsVerify: !loopback, quiet: false },
        ...(auth ? { authconfig: auth } : {}),
        isStream: true,
        statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
      },
      (err, stream) => (err ? reject(err) : resolve(stream as NodeJS.ReadableStream)),
    ),
  );
}
