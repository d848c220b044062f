// The image config (USER, labels) of an image on its registry, read at plan time without pulling
// a layer: manifest (or index → the engine's platform's manifest) → config blob, over the
// registry's HTTP API v2, each by digest, each checked against its digest. The engine has no
// call for this, so SandboxShift asks the registry itself: HTTPS, or plain HTTP for a loopback
// registry (as the engine allows). Credentials go only into the Authorization header (Basic,
// or Basic to the token service for a Bearer token); no message here contains them.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ImageRef } from '../config/image-ref.js';
import type { RegistryAuth } from '../model/pull-auth.js';
import { isLoopback } from './registry-host.js';
import { scrub, type RegistryProblem } from './registry.js';

export interface RemoteImageConfig {
  /** The image's USER, '' when unset. */
  user: string;
  labels: Readonly<Record<string, string>>;
  /** The platform's manifest the config came from (the digest itself unless it named an index). */
  manifest: string;
}

export interface Platform {
  os: string;
  architecture: string;
}

/** Why the config could not be read: `mismatch` is content that does not hash to its digest. */
export interface RegistryConfigProblem {
  kind: 'unreadable' | 'mismatch';
  detail: string;
}

const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const ACCEPT = [OCI_INDEX, LIST, OCI_MANIFEST, MANIFEST].join(', ');
/** A manifest or config larger than this is not read (they are a few KiB). */
const MAX_BYTES = 4 * 1024 * 1024;
const TIMEOUT_MS = 10_000;

interface Descriptor {
  mediaType?: string;
  digest?: string;
  platform?: { os?: string; architecture?: string };
}

/**
 * The config of `ref` at manifest `digest`. `platform` is asked only when the digest names an
 * index (a multi-platform image), and picks its manifest.
 */
export async function readRemoteConfig(ref: ImageRef, digest: string, auth: RegistryAuth | null, platform: () => Promise<Platform>): Promise<RemoteImageConfig | RegistryConfigProblem> {
  const client = new RegistryClient(ref, auth);
  try {
    let manifestDigest = digest;
    let manifest = await client.json<{ mediaType?: string; manifests?: Descriptor[]; config?: Descriptor }>(`manifests/${digest}`, digest, ACCEPT);
    if (isIndex(manifest)) {
      const want = await platform();
      const chosen = (manifest.manifests ?? []).find((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture && m.digest);
      if (!chosen?.digest) return { kind: 'unreadable', detail: `the index ${digest} has no manifest for ${want.os}/${want.architecture}` };
      manifestDigest = chosen.digest;
      manifest = await client.json(`manifests/${chosen.digest}`, chosen.digest, ACCEPT);
    }
    const configDigest = manifest.config?.digest;
    if (!configDigest) return { kind: 'unreadable', detail: `manifest ${manifestDigest} (${manifest.mediaType ?? 'no media type'}) names no config blob` };
    const config = await client.json<{ config?: { User?: string; Labels?: Record<string, string> | null } }>(`blobs/${configDigest}`, configDigest, '*/*');
    return { user: config.config?.User ?? '', labels: config.config?.Labels ?? {}, manifest: manifestDigest };
  } catch (err) {
    if (err instanceof Mismatch) return { kind: 'mismatch', detail: err.message };
    return { kind: 'unreadable', detail: scrub(describe(err), auth) };
  }
}

/**
 * The manifest digest `ref` names on its registry now, asked of the registry itself: for an
 * engine with no call for it (Podman has no GET /distribution/NAME/json). The digest is the
 * sha256 of the manifest bytes served for the tag (an index for a multi-platform image, as the
 * engine's call gives); a Docker-Content-Digest header that says otherwise is an error naming both.
 */
export async function readRemoteDigest(ref: ImageRef, auth: RegistryAuth | null): Promise<{ digest: string } | RegistryProblem> {
  const client = new RegistryClient(ref, auth);
  const reference = ref.digest ?? ref.tag ?? 'latest';
  let res: Answer;
  try {
    res = await client.manifest(reference, ACCEPT);
  } catch (err) {
    if (err instanceof TokenRefused) return { kind: err.status === 401 || err.status === 403 ? 'unauthorized' : 'error', detail: err.message };
    // It answered, with something that is no manifest: not a network problem.
    if (err instanceof TooLarge) return { kind: 'error', detail: err.message };
    return { kind: 'unreachable', detail: scrub(describe(err), auth) };
  }
  if (res.status === 401 || res.status === 403) return { kind: 'unauthorized', detail: `GET manifests/${reference} answered HTTP ${res.status}` };
  if (res.status === 404) return { kind: 'missing', detail: `manifest unknown: GET manifests/${reference} answered HTTP 404` };
  if (res.status !== 200) return { kind: 'error', detail: `GET manifests/${reference} answered HTTP ${res.status}` };
  const digest = `sha256:${createHash('sha256').update(res.body).digest('hex')}`;
  const said = res.headers['docker-content-digest'];
  if (typeof said === 'string' && said !== digest) return { kind: 'error', detail: `the registry says the manifest is ${said} but its bytes hash to ${digest}` };
  return { digest };
}

function isIndex(m: { mediaType?: string; manifests?: unknown }): boolean {
  return m.mediaType === LIST || m.mediaType === OCI_INDEX || (m.mediaType === undefined && Array.isArray(m.manifests));
}

class Mismatch extends Error {}

/** An answer over MAX_BYTES: the registry answered, with no manifest or config (they are a few KiB). */
class TooLarge extends Error {}

/** The token service's refusal (the credentials, or their access, in question when it is 401 or 403). */
class TokenRefused extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

/** GETs against one repository, with the registry's auth challenge answered once. */
class RegistryClient {
  private readonly host: string;
  private readonly path: string;
  private base: string | null = null;
  private authorization: string | null = null;

  constructor(
    ref: ImageRef,
    private readonly auth: RegistryAuth | null,
  ) {
    const hub = ref.registry === 'docker.io' || ref.registry === 'index.docker.io';
    this.host = hub ? 'registry-1.docker.io' : ref.registry;
    const path = ref.repository.startsWith(`${ref.registry}/`) ? ref.repository.slice(ref.registry.length + 1) : ref.repository;
    this.path = hub && !path.includes('/') ? `library/${path}` : path;
  }

  /** The manifest a tag or digest names, as served (status, headers, bytes). */
  manifest(reference: string, accept: string): Promise<Answer> {
    return this.get(`/v2/${this.path}/manifests/${reference}`, accept);
  }

  /** The JSON at `/v2/PATH/WHAT`, whose bytes must hash to `digest`. */
  async json<T>(what: string, digest: string, accept: string): Promise<T> {
    const res = await this.get(`/v2/${this.path}/${what}`, accept);
    if (res.status !== 200) throw new Error(`GET ${what} answered HTTP ${res.status}`);
    const [algorithm, hex] = digest.split(':');
    if (algorithm !== 'sha256') throw new Error(`${digest}: only sha256 digests are checked`);
    const actual = createHash('sha256').update(res.body).digest('hex');
    if (actual !== hex) throw new Mismatch(`the registry served content for ${digest} whose sha256 is ${actual}`);
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  private async get(path: string, accept: string): Promise<Answer> {
    const first = await this.send(path, accept);
    if (first.status !== 401) return first;
    this.authorization = await this.answer(String(first.headers['www-authenticate'] ?? ''));
    if (this.authorization === null) return first;
    return this.send(path, accept);
  }

  private async send(path: string, accept: string): Promise<Answer> {
    const headers: Record<string, string> = { accept };
    if (this.authorization) headers.authorization = this.authorization;
    if (this.base) return httpGet(new URL(`${this.base}${path}`), headers);
    try {
      const res = await httpGet(new URL(`https://${this.host}${path}`), headers);
      this.base = `https://${this.host}`;
      return res;
    } catch (err) {
      // The engine pulls from a loopback registry over plain HTTP; so do we, and only there
      // (and not after an HTTPS answer that came, too large).
      if (!isLoopback(this.host) || err instanceof TooLarge) throw err;
      const res = await httpGet(new URL(`http://${this.host}${path}`), headers);
      this.base = `http://${this.host}`;
      return res;
    }
  }

  /** The Authorization header for a challenge: Basic, or a Bearer token from the realm named. */
  private async answer(challenge: string): Promise<string | null> {
    const basic = this.auth ? `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64')}` : null;
    const scheme = challenge.trim().split(/\s+/, 1)[0]?.toLowerCase();
    if (scheme === 'basic') return basic;
    if (scheme !== 'bearer') return null;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    if (!params.realm) return null;
    const realm = new URL(params.realm);
    // Credentials go to a token service over HTTPS, or to the registry's own loopback host.
    const trusted = realm.protocol === 'https:' || (realm.host === this.host && isLoopback(this.host));
    realm.searchParams.set('scope', `repository:${this.path}:pull`);
    if (params.service) realm.searchParams.set('service', params.service);
    const res = await httpGet(realm, basic && trusted ? { authorization: basic } : {});
    if (res.status !== 200) throw new TokenRefused(`the token service answered HTTP ${res.status}`, res.status);
    const token = JSON.parse(res.body.toString('utf8')) as { token?: string; access_token?: string };
    const value = token.token ?? token.access_token;
    return value ? `Bearer ${value}` : null;
  }
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * GET with node:http(s), loaded on first use (fetch's first call costs a plan some 50 ms more,
 * and node:https loads TLS). Follows redirects (blob storage), sending the Authorization header
 * only to the origin it was meant for; a body over MAX_BYTES is refused.
 */
async function httpGet(url: URL, headers: Record<string, string>, redirects = 5): Promise<Answer> {
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const answer = await new Promise<Answer>((resolve, reject) => {
    const req = request(url, { headers, timeout: TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BYTES) req.destroy(new TooLarge(`GET ${url.pathname}: the answer is over ${MAX_BYTES / 1024 / 1024} MiB, more than any manifest or image config; check the reference`));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.host}: no answer in ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
  const location = answer.headers.location;
  if (![301, 302, 303, 307, 308].includes(answer.status) || !location) return answer;
  if (redirects === 0) throw new Error(`GET ${url.pathname}: too many redirects`);
  const next = new URL(location, url);
  const { authorization, ...rest } = headers;
  return httpGet(next, next.origin === url.origin && authorization ? { ...rest, authorization } : rest, redirects - 1);
}
