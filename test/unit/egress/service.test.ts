// The proxy as a service: policy read from a file, reloaded on request and on change, and denying
// everything while the file cannot be read.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { policyHash as appPolicyHash } from '../../../src/app/egress.js';
import { PolicyStartError, policyHash, startEgressService, type EgressService } from '../../../src/egress/index.js';
import { captureClientHello } from './client-hello-fixture.js';
import { connectRequest, rawRequest, sleep, startRecordingServer } from './proxy-harness.js';

const dirs: string[] = [];
const services: EgressService[] = [];
afterEach(async () => {
  for (const service of services.splice(0)) await service.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function policyFile(content: unknown): { path: string; replace(next: unknown): void } {
  const dir = mkdtempSync(join(tmpdir(), 'egress-policy-'));
  dirs.push(dir);
  const path = join(dir, 'policy.json');
  const write = (next: unknown) => {
    // Written aside and renamed over, the way SandboxShift is expected to write it.
    writeFileSync(`${path}.tmp`, typeof next === 'string' ? next : JSON.stringify(next));
    renameSync(`${path}.tmp`, path);
  };
  write(content);
  return { path, replace: write };
}

async function start(path: string, lines: string[], statsPath?: string) {
  const service = await startEgressService({
    statsPath,
    policyPath: path,
    host: '127.0.0.1',
    port: 0,
    log: (line) => lines.push(line),
    watchIntervalMs: 25,
    resolve: async () => {
      throw new Error('no DNS in this test');
    },
  });
  services.push(service);
  return service;
}

const statusOf = async (port: number, target: string) => (await rawRequest(port, connectRequest(target))).status;

async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 80; i++) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error('condition not met in time');
}

describe('startEgressService', () => {
  it('loads the policy file, and reports entries it cannot use', async () => {
    const file = policyFile({ allow: ['pypi.org', 'https://bad.test/'] });
    const lines: string[] = [];
    const service = await start(file.path, lines);
    const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events).toMatchObject([
      { event: 'policy', trigger: 'start', rules: ['pypi.org'], problems: [{ entry: 'https://bad.test/' }] },
      { event: 'listening', host: '127.0.0.1', port: service.port },
    ]);
  });

  it('refuses to start on a file that is not a policy', async () => {
    for (const content of ['{not json', { allow: 'pypi.org' }, { allow: [1] }, []]) {
      const file = policyFile(content);
      await expect(start(file.path, [])).rejects.toBeInstanceOf(PolicyStartError);
    }
  });

  it('reloads when the file changes', async () => {
    const file = policyFile({ allow: [] });
    const service = await start(file.path, []);
    // An address target needs no DNS, so the answer shows the policy alone: 403 when refused,
    // anything else (502 with nothing listening on the discard port) once allowed.
    expect(await statusOf(service.port, '127.0.0.1:9')).toBe(403);
    file.replace({ allow: ['127.0.0.1:9'] });
    await eventually(async () => (await statusOf(service.port, '127.0.0.1:9')) !== 403);
  });

  it('reloads on request, and denies everything while the file is broken', async () => {
    const file = policyFile({ allow: ['127.0.0.1:9'] });
    const lines: string[] = [];
    const service = await start(file.path, lines);
    expect(await statusOf(service.port, '127.0.0.1:9')).not.toBe(403);

    file.replace('{"allow": [');
    service.reloadPolicy('SIGHUP');
    expect(await statusOf(service.port, '127.0.0.1:9')).toBe(403);
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(expect.objectContaining({ event: 'policy-error', trigger: 'SIGHUP', now: 'denying everything' }));

    file.replace({ allow: ['127.0.0.1:9'] });
    service.reloadPolicy('SIGHUP');
    expect(await statusOf(service.port, '127.0.0.1:9')).not.toBe(403);
  });

  it('stops listening and drops open tunnels on stop', async () => {
    const upstream = await startRecordingServer();
    const file = policyFile({ allow: [`127.0.0.1:${upstream.port}`] });
    const service = await start(file.path, []);
    const tunnel = await rawRequest(service.port, connectRequest(`127.0.0.1:${upstream.port}`));
    expect(tunnel.status).toBe(200);
    // A tunnel opens (and counts) once its ClientHello has passed; an address target sends no name.
    tunnel.socket.write(await captureClientHello());
    await eventually(async () => service.proxy.openConnections.size === 1);
    services.splice(services.indexOf(service), 1);
    await service.stop();
    await tunnel.closed;
    await upstream.close();
    await expect(rawRequest(service.port, connectRequest('pypi.org:443'))).rejects.toThrow();
  });

  it('logs the policy hash the engine side computes, and on reload how many connections it kept and closed', async () => {
    const upstream = await startRecordingServer();
    const allow = [`127.0.0.1:${upstream.port}`, 'pypi.org', 'https://bad.test/'];
    const file = policyFile({ allow });
    const lines: string[] = [];
    const service = await start(file.path, lines);
    const tunnel = await rawRequest(service.port, connectRequest(`127.0.0.1:${upstream.port}`));
    expect(tunnel.status).toBe(200);
    // A tunnel opens (and counts) once its ClientHello has passed; an address target sends no name.
    tunnel.socket.write(await captureClientHello());
    await eventually(async () => service.proxy.openConnections.size === 1);

    const next = [`127.0.0.1:${upstream.port}`, '*.github.com'];
    file.replace({ allow: next });
    service.reloadPolicy('SIGHUP');
    const policyLines = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.event === 'policy');
    expect(policyHash(allow)).toBe(appPolicyHash(allow));
    expect(policyLines).toMatchObject([
      { trigger: 'start', hash: appPolicyHash(allow) },
      { trigger: 'SIGHUP', hash: appPolicyHash(next), kept: 1, closed: 0 },
    ]);
    expect(appPolicyHash(next)).toMatch(/^sha256:[0-9a-f]{64}$/);
    tunnel.socket.destroy();
    await upstream.close();
  });

  it('closes every open connection when the file becomes unreadable, and denies new ones', async () => {
    const upstream = await startRecordingServer();
    const file = policyFile({ allow: [`127.0.0.1:${upstream.port}`] });
    const lines: string[] = [];
    const service = await start(file.path, lines);
    const tunnel = await rawRequest(service.port, connectRequest(`127.0.0.1:${upstream.port}`));
    expect(tunnel.status).toBe(200);
    // A tunnel opens (and counts) once its ClientHello has passed; an address target sends no name.
    tunnel.socket.write(await captureClientHello());
    await eventually(async () => service.proxy.openConnections.size === 1);

    file.replace('{"allow": [');
    service.reloadPolicy('SIGHUP');
    await tunnel.closed;
    expect(await statusOf(service.port, `127.0.0.1:${upstream.port}`)).toBe(403);
    const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events).toContainEqual(expect.objectContaining({ event: 'policy-error', trigger: 'SIGHUP', now: 'denying everything', hash: appPolicyHash([]), kept: 0, closed: 1 }));
    expect(events).toContainEqual(expect.objectContaining({ decision: 'deny', port: upstream.port, reason: `closed on policy reload: no address rule covers 127.0.0.1` }));
    await upstream.close();
  });
});
