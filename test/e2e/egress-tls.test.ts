// TLS through the egress proxy, end to end: CONNECT to an allowed name works only when the TLS
// ClientHello names that same host. The sandbox runs the shipped Node runtime image (it has a
// TLS client); the fake internet serves TLS with a throwaway certificate made by openssl.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeInternet } from '../support/fake-internet.mjs';
import { containerOf, docker, dockerCli, testProject, type TestProject } from './harness.js';

const NODE_IMAGE = 'sandboxshift/runtime-node:latest';

/** What CLIENT prints when the proxy ends the tunnel before the TLS handshake. */
const TUNNEL_CLOSED = 'ENDED before the handshake';

const SERVER = `require('tls').createServer({ key: process.env.KEY, cert: process.env.CERT }, (s) => s.end('tls-ok ' + (s.servername || '-') + '\\n')).listen(443)`;

/** CONNECT through HTTPS_PROXY, then TLS with the given SNI (empty: none); prints one line. */
const CLIENT = `
const net = require('net'), tls = require('tls');
const [host, sni] = process.argv.slice(1);
const u = new URL(process.env.HTTPS_PROXY);
const s = net.connect(Number(u.port), u.hostname, () => s.write('CONNECT ' + host + ':443 HTTP/1.1\\r\\nHost: ' + host + ':443\\r\\n\\r\\n'));
s.once('data', (d) => {
  const line = d.toString().split('\\r\\n')[0];
  if (!/ 200 /.test(line)) { console.log('PROXY ' + line); process.exit(0); }
  const t = tls.connect({ socket: s, rejectUnauthorized: false, ...(sni ? { servername: sni } : {}) });
  let out = '', secure = false;
  t.on('secureConnect', () => (secure = true));
  t.on('data', (c) => (out += c));
  t.on('end', () => { console.log(secure ? 'TLS ' + out.trim() : 'ENDED before the handshake'); process.exit(0); });
  t.on('error', (e) => { console.log('TLSERR ' + (e.code || e.message)); process.exit(0); });
  t.on('close', () => { if (!out) { console.log('CLOSED'); process.exit(0); } });
});
s.on('error', (e) => { console.log('SOCKERR ' + e.message); process.exit(0); });
setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 20000);
`;

describe.each(['runc', 'runsc'])('TLS through the egress proxy under %s', (runtime) => {
  const tag = `${runtime}-${randomInt(1e6)}`;
  const internet = `ss-e2e-tls-${tag}`;
  const server = `ss-e2e-tls-server-${tag}`;
  let p: TestProject;
  let proxy = '';

  beforeAll(async () => {
    // The shipped Node runtime; the engine's layer cache makes this quick after the first time.
    execFileSync('make', ['-C', 'images', 'build-node'], { stdio: 'ignore', timeout: 900_000 });
    const dir = mkdtempSync(join(tmpdir(), 'ss-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=allowed.test', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], {
      stdio: 'ignore',
    });
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    rmSync(dir, { recursive: true, force: true });
    await createFakeInternet(docker, internet, { 'io.sandboxshift.test': '1' });
    const c = await docker.createContainer({
      name: server,
      Image: NODE_IMAGE,
      User: '0',
      Entrypoint: ['node', '-e', SERVER],
      Env: [`KEY=${key}`, `CERT=${cert}`],
      HostConfig: { NetworkMode: internet },
      NetworkingConfig: { EndpointsConfig: { [internet]: { Aliases: ['allowed.test', 'other.test'] } } },
    });
    await c.start();
    p = testProject(
      `tls-${runtime}`,
      `
version: 1
project: {{project}}
images:
  node: { ref: ${NODE_IMAGE} }
environments:
  agent: { image: node, runtime: ${runtime}, resources: { memory: 256m, pids: 64 }, egress: { allow: [allowed.test] } }
`,
    );
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    proxy = `ss.${p.name}.agent.egress`;
    await docker.getNetwork(internet).connect({ Container: proxy });
  }, 1_200_000);

  afterAll(async () => {
    await p?.cleanup();
    await docker.getContainer(server).remove({ force: true });
    for (const n of await docker.listNetworks({ filters: { label: [`io.sandboxshift.project=${p?.name}`] } })) await docker.getNetwork(n.Id).remove();
    await docker.getNetwork(internet).remove();
  });

  const tlsVia = (host: string, sni: string) => dockerCli(['exec', containerOf(p.name, 'agent'), 'node', '-e', CLIENT, host, sni], 60_000);

  it('completes TLS to an allowed name when the SNI matches', async () => {
    expect((await tlsVia('allowed.test', 'allowed.test')).trim()).toBe('TLS tls-ok allowed.test');
  });

  // The proxy answers 200 to the CONNECT, reads the ClientHello and then ends the tunnel: the
  // client's stream ends with no handshake and no byte from the server (a server-side TLS failure
  // would be an alert, TLSERR; an unreachable server the proxy's 502).
  it('closes the tunnel when the SNI names another host', async () => {
    expect((await tlsVia('allowed.test', 'other.test')).trim()).toBe(TUNNEL_CLOSED);
  });

  it('closes the tunnel when there is no SNI at all', async () => {
    expect((await tlsVia('allowed.test', '')).trim()).toBe(TUNNEL_CLOSED);
  });

  it('refuses CONNECT to a name that is not allowed, whatever the SNI', async () => {
    expect((await tlsVia('other.test', 'other.test')).trim()).toMatch(/^PROXY HTTP\/1\.[01] 403/);
  });

  it('logs the SNI refusals, each with its reason', async () => {
    const r = await p.run(['logs', 'agent', '--egress']);
    expect(r.code, r.stderr).toBe(0);
    const denies = r.stdout
      .split('\n')
      .filter((l) => l.includes('"decision":"deny"'))
      .map((l) => JSON.parse(l) as { host: string; reason: string });
    expect(denies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ host: 'allowed.test', reason: 'ClientHello names other.test, not allowed.test' }),
        expect.objectContaining({ host: 'allowed.test', reason: 'ClientHello has no server name (SNI); allowed.test requires one' }),
      ]),
    );
  });
});
