// The contract of an image the plan pulls, judged from its config on the registry: a loopback
// registry of our own (anonymous, Docker v2 manifest → config blob), and one that is not there.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPulledContracts } from '../../../src/app/registry.js';
import type { Engine } from '../../../src/engine/client.js';
import type { DesiredState } from '../../../src/model/desired.js';
import { bareChange, type Plan } from '../../../src/plan/index.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const config = Buffer.from(JSON.stringify({ config: { User: 'root', Labels: { 'io.sandboxshift.contract': '0' } } }));
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { digest: sha(config) }, layers: [] }));

/** No engine call is expected: a plain manifest needs no platform. */
const engine = { reader: { version: () => Promise.reject(new Error('no engine call expected')) } } as unknown as Engine;

function setup(ref: string, allowContractMismatch: boolean): { desired: DesiredState; plan: Plan } {
  const desired = {
    images: new Map([['app', { address: 'image.app', name: 'app', ref, build: null, builtin: false, pull: 'if-not-present' }]]),
    environments: new Map([['dev', { name: 'dev', imageName: 'app', allowContractMismatch }]]),
  } as unknown as DesiredState;
  const change = bareChange({
    address: 'image.app',
    type: 'image',
    name: 'app',
    kind: 'create',
    reasons: [],
    steps: ['pull-image', 'verify-image'],
    imageRef: ref,
    digest: sha(manifest),
    verify: { uid: 65532, gid: 65532, allowContractMismatch },
  });
  return { desired, plan: { changes: [change] } as unknown as Plan };
}

describe('checkPulledContracts', () => {
  let server: Server;
  let host = '';
  beforeAll(async () => {
    const content = new Map([manifest, config].map((b) => [sha(b), b]));
    server = createServer((req, res) => {
      const body = content.get(/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '')?.[1] ?? '');
      if (body && req.url?.startsWith('/v2/team/app/')) res.writeHead(200).end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    host = `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('USER root and another contract label are errors at images.app.ref, naming the image, the registry and the digest', async () => {
    const ref = `${host}/team/app:1`;
    const { desired, plan } = setup(ref, false);
    const diags = await checkPulledContracts(engine, desired, plan, 'sandboxshift.yaml');
    const where = `(image 'app', on registry ${host} at ${sha(manifest).slice(0, 19)}, wanted by dev)`;
    expect(diags).toEqual([
      {
        severity: 'error',
        message: `image contract: image ${ref} runs as root (USER root) ${where}`,
        file: 'sandboxshift.yaml',
        path: 'images.app.ref',
        hint: 'add `USER 65532:65532` (a non-root numeric user) to its Dockerfile, push it again and point ref at it; nothing was pulled',
      },
      expect.objectContaining({ severity: 'error', message: `image contract: image ${ref} declares contract 0, this version needs contract 1 ${where}`, path: 'images.app.ref' }),
    ]);
  });

  it('allowContractMismatch on every environment makes the label a warning; root stays an error', async () => {
    const ref = `${host}/team/app:1`;
    const { desired, plan } = setup(ref, true);
    const diags = await checkPulledContracts(engine, desired, plan, 'sandboxshift.yaml');
    expect(diags.map((d) => `${d.severity}: ${d.message}`)).toEqual([
      `error: image contract: image ${ref} runs as root (USER root) (image 'app', on registry ${host} at ${sha(manifest).slice(0, 19)}, wanted by dev)`,
      `warning: image ${ref} declares contract 0, this version needs contract 1; accepted by allowContractMismatch for dev`,
    ]);
  });

  it('a registry this process cannot read is a warning that leaves the check to verify-image', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const ref = `127.0.0.1:${closed}/team/app:1`;
    const { desired, plan } = setup(ref, false);
    const [d, ...rest] = await checkPulledContracts(engine, desired, plan, 'sandboxshift.yaml');
    expect(rest).toEqual([]);
    expect(d?.severity).toBe('warning');
    expect(d?.path).toBe('images.app.ref');
    expect(d?.message).toMatch(
      new RegExp(
        `^the config of 127\\.0\\.0\\.1:${closed}/team/app:1 could not be read from registry 127\\.0\\.0\\.1:${closed} here \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}\\); its image contract is checked after the pull, at verify-image$`,
      ),
    );
  });
});
