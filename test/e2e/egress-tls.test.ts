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
  let out = '';
  t.on('data', (c) => (out += c));
  t.on('end', () => { console.log('TLS ' + out.trim()); process.exit(0); });
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
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=allowed.test', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
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
    p = testProject(`tls-${runtime}`, `
version: 1
project: {{project}}
images:
  node: { ref: ${NODE_IMAGE} }
environments:
  agent: { image: node, runtime: ${runtime}, resources: { memory: 256m, pids: 64 }, egress: { allow: [allowed.test] } }
`);
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

  it('closes the tunnel when the SNI names another host', async () => {
    const out = (await tlsVia('allowed.test', 'other.test')).trim();
    expect(out).not.toContain('tls-ok');
    // The proxy ends the tunnel after reading the ClientHello: no handshake, no bytes from the server.
    expect(out).toMatch(/^(CLOSED|TLSERR .*|TLS)$/);
  });

  it('closes the tunnel when there is no SNI at all', async () => {
    const out = (await tlsVia('allowed.test', '')).trim();
    expect(out).not.toContain('tls-ok');
  });

  it('refuses CONNECT to a name that is not allowed, whatever the SNI', async () => {
    expect((await tlsVia('other.test', 'other.test')).trim()).toMatch(/^PROXY HTTP\/1\.[01] 403/);
  });

  it('logs the SNI refusals', async () => {
    const r = await p.run(['logs', 'agent', '--egress']);
    const denies = r.stdout.split('\n').filter((l) => l.includes('"decision":"deny"'));
    expect(denies.some((l) => /sni|server name|ClientHello/i.test(l))).toBe(true);
  });
});
