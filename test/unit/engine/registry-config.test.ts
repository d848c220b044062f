// Reading an image's config from a registry without pulling: a registry of our own on
// loopback (plain HTTP, as the engine allows there) behind a Bearer token service, serving a
// Docker manifest list → OCI manifest → config blob, each by digest.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageRef, type ImageRef } from '../../../src/config/image-ref.js';
import { readRemoteConfig, readRemoteDigest } from '../../../src/engine/registry-config.js';

const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
const TOKEN = `tok-${randomBytes(8).toString('hex')}`;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

const config = json({ architecture: 'amd64', os: 'linux', config: { User: '0', Labels: { 'io.sandboxshift.contract': '1' } } });
const armConfig = json({ architecture: 'arm64', os: 'linux', config: { User: '65532', Labels: { 'io.sandboxshift.contract': '1' } } });
const ociManifest = (cfg: Buffer) =>
  json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(cfg), size: cfg.length },
    layers: [],
  });
const amd = ociManifest(config);
const arm = ociManifest(armConfig);
const list = json({
  schemaVersion: 2,
  mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
  manifests: [
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(arm), size: arm.length, platform: { os: 'linux', architecture: 'arm64' } },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(amd), size: amd.length, platform: { os: 'linux', architecture: 'amd64' } },
  ],
});
/** A manifest whose config blob the registry serves with other bytes. */
const tampered = json({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { digest: `sha256:${'1'.repeat(64)}` }, layers: [] });

describe('readRemoteConfig', () => {
  let server: Server;
  let storage: Server;
  let host = '';
  let storageHost = '';
  const storageSaw: string[] = [];
  const seen: string[] = [];
  const content = new Map<string, Buffer>([list, amd, arm, config, armConfig, tampered].map((b) => [sha(b), b]));
  content.set(`sha256:${'1'.repeat(64)}`, config);

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', `http://${host}`);
      seen.push(`${req.method} ${url.pathname}`);
      if (url.pathname === '/token') {
        const ok = req.headers.authorization === `Basic ${Buffer.from(`ss:${PASSWORD}`).toString('base64')}` && url.searchParams.get('scope') === 'repository:team/app:pull';
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(ok ? JSON.stringify({ token: TOKEN }) : '{}');
        return;
      }
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="fake",scope="repository:team/app:pull"` }).end();
        return;
      }
      // Tags, for readRemoteDigest: `1` names the list; `liar` too, under a digest header that is not its hash.
      // `huge` names 5 MiB, more than any manifest.
      if (url.pathname === '/v2/team/app/manifests/huge') {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(Buffer.alloc(5 << 20, 0x20));
        return;
      }
      const tag = /^\/v2\/team\/app\/manifests\/(1|liar)$/.exec(url.pathname)?.[1];
      if (tag) {
        res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.list.v2+json', 'docker-content-digest': tag === '1' ? sha(list) : sha(amd) }).end(list);
        return;
      }
      const m = /^\/v2\/team\/app\/(manifests|blobs)\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
      // The amd64 config blob lives in blob storage elsewhere, as on registries backed by object storage.
      if (m?.[2] === sha(config)) {
        res.writeHead(307, { location: `http://${storageHost}/blob/${sha(config)}` }).end();
        return;
      }
      const body = m ? content.get(m[2]!) : undefined;
      if (!body) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    storage = createServer((req, res) => {
      storageSaw.push(`${req.url} authorization=${req.headers.authorization ?? 'none'}`);
      res.writeHead(200).end(config);
    });
    for (const [srv, set] of [
      [server, (h: string) => (host = h)],
      [storage, (h: string) => (storageHost = h)],
    ] as const) {
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const a = srv.address();
      set(`127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`);
    }
  });
  afterAll(async () => {
    for (const srv of [server, storage]) await new Promise<void>((r) => srv.close(() => r()));
  });

  const ref = () => parseImageRef(`${host}/team/app:1`) as ImageRef;
  const auth = () => ({ username: 'ss', password: PASSWORD, serveraddress: host });
  const amd64 = async () => ({ os: 'linux', architecture: 'amd64' });

  it("picks the engine's platform from a Docker manifest list, then the OCI manifest's config (redirected to storage without the token), with a Bearer token got with the credentials", async () => {
    seen.length = 0;
    const answer = await readRemoteConfig(ref(), sha(list), auth(), amd64);
    expect(answer).toEqual({ user: '0', labels: { 'io.sandboxshift.contract': '1' }, manifest: sha(amd) });
    expect(seen).toContain(`GET /v2/team/app/blobs/${sha(config)}`);
    // Redirected to another origin: the token stays behind.
    expect(storageSaw).toEqual([`/blob/${sha(config)} authorization=none`]);
    expect(seen.some((s) => s.includes('layers') || s.includes(sha(armConfig)))).toBe(false);
    const armAnswer = await readRemoteConfig(ref(), sha(list), auth(), async () => ({ os: 'linux', architecture: 'arm64' }));
    expect(armAnswer).toEqual({ user: '65532', labels: { 'io.sandboxshift.contract': '1' }, manifest: sha(arm) });
  });

  it('an index without the platform is unreadable, naming the platform', async () => {
    expect(await readRemoteConfig(ref(), sha(list), auth(), async () => ({ os: 'linux', architecture: 's390x' }))).toEqual({
      kind: 'unreadable',
      detail: `the index ${sha(list)} has no manifest for linux/s390x`,
    });
  });

  it('content that does not hash to its digest is a mismatch', async () => {
    expect(await readRemoteConfig(ref(), sha(tampered), auth(), amd64)).toEqual({
      kind: 'mismatch',
      detail: `the registry served content for sha256:${'1'.repeat(64)} whose sha256 is ${sha(config).slice(7)}`,
    });
  });

  it('wrong credentials: unreadable, and the password is in no answer', async () => {
    const answer = await readRemoteConfig(ref(), sha(list), { ...auth(), password: `${PASSWORD}x` }, amd64);
    expect(answer).toEqual({ kind: 'unreadable', detail: 'the token service answered HTTP 401' });
    expect(JSON.stringify(answer)).not.toContain(PASSWORD);
  });

  it('an unknown digest is unreadable with the HTTP status', async () => {
    expect(await readRemoteConfig(ref(), `sha256:${'2'.repeat(64)}`, auth(), amd64)).toEqual({ kind: 'unreadable', detail: `GET manifests/sha256:${'2'.repeat(64)} answered HTTP 404` });
  });

  describe('readRemoteDigest (Podman has no call for it)', () => {
    const at = (tag: string) => parseImageRef(`${host}/team/app:${tag}`) as ImageRef;

    it('is the sha256 of the manifest bytes the tag names (the index of a multi-platform image), got with the credentials', async () => {
      expect(await readRemoteDigest(at('1'), auth())).toEqual({ digest: sha(list) });
    });

    it('a pinned digest is asked by its digest', async () => {
      expect(await readRemoteDigest(parseImageRef(`${host}/team/app@${sha(amd)}`) as ImageRef, auth())).toEqual({ digest: sha(amd) });
    });

    it("a Docker-Content-Digest header that is not the bytes' hash is an error naming both", async () => {
      expect(await readRemoteDigest(at('liar'), auth())).toEqual({ kind: 'error', detail: `the registry says the manifest is ${sha(amd)} but its bytes hash to ${sha(list)}` });
    });

    it('an unknown tag is missing; wrong credentials are unauthorized, with the password in no answer', async () => {
      expect(await readRemoteDigest(at('2'), auth())).toEqual({ kind: 'missing', detail: 'manifest unknown: GET manifests/2 answered HTTP 404' });
      const wrong = await readRemoteDigest(at('1'), { ...auth(), password: `${PASSWORD}x` });
      expect(wrong).toEqual({ kind: 'unauthorized', detail: 'the token service answered HTTP 401' });
      expect(JSON.stringify(wrong)).not.toContain(PASSWORD);
    });

    it('an answer over 4 MiB is an error saying so, not an unreachable registry', async () => {
      expect(await readRemoteDigest(at('huge'), auth())).toEqual({
        kind: 'error',
        detail: 'GET /v2/team/app/manifests/huge: the answer is over 4 MiB, more than any manifest or image config; check the reference',
      });
    });

    it('a registry that does not answer is unreachable', async () => {
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const a = closed.address();
      await new Promise<void>((r) => closed.close(() => r()));
      const answer = await readRemoteDigest(parseImageRef(`127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/team/app:1`) as ImageRef, auth());
      expect(answer).toMatchObject({ kind: 'unreachable' });
      expect((answer as { detail: string }).detail).toContain('ECONNREFUSED');
    });
  });
});
