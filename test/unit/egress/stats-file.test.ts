// The live figures file: what it counts through a real proxy on loopback, and how it is written
// (whole files only, at most once a second, within a second of a change).
import { watch, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { policyHash as appPolicyHash } from '../../../src/app/egress.js';
import { LiveStats, startEgressService, writeStatsFile, type EgressService, type StatsSnapshot } from '../../../src/egress/index.js';
import { captureClientHello } from './client-hello-fixture.js';
import { connectRequest, rawRequest, sleep, startRecordingServer } from './proxy-harness.js';

const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'egress-stats-'));
  dirs.push(dir);
  return dir;
}

const readStats = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as StatsSnapshot;

async function until(path: string, check: (stats: StatsSnapshot) => boolean, ms = 3000): Promise<StatsSnapshot> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const stats = readStats(path);
      if (check(stats)) return stats;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) throw new Error(`stats file never matched; last: ${readFileSync(path, 'utf8')}`);
    await sleep(50);
  }
}

describe('stats file through the proxy', () => {
  it('counts a request waiting for its name or its upstream as an open connection and activity, until the wait ends', async () => {
    const dir = tempDir();
    const policyPath = join(dir, 'policy.json');
    writeFileSync(policyPath, JSON.stringify({ allow: ['slow.test'] }));
    const statsPath = join(dir, 'stats.json');
    let fail: (error: Error) => void = () => {};
    // A name that takes its time to resolve: the proxy waits, as it waits on a dropped SYN upstream.
    const resolve = () => new Promise<string[]>((_, reject) => (fail = reject));
    const service = await startEgressService({ policyPath, host: '127.0.0.1', port: 0, log: () => {}, statsPath, statsIntervalMs: 100, resolve });
    cleanups.push(() => service.stop());
    await until(statsPath, () => true);

    const answer = rawRequest(service.port, 'GET http://slow.test/ HTTP/1.1\r\nHost: slow.test\r\n\r\n');
    const waiting = await until(statsPath, (s) => s.open_connections === 1);
    expect(waiting).toMatchObject({ connections_total: 0, requests_total: 0 });
    expect(waiting.last_activity).not.toBeNull();
    fail(new Error('getaddrinfo ENOTFOUND slow.test'));
    expect((await answer).status).toBe(502);
    expect(await until(statsPath, (s) => s.open_connections === 0 && s.requests_total === 1)).toMatchObject({ connections_total: 0, denied_total: 1 });
  });

  it('counts an open tunnel while it is open, the bytes each way, and decisions', async () => {
    const upstream = await startRecordingServer(Buffer.from('pong'));
    cleanups.push(upstream.close);
    const dir = tempDir();
    const policyPath = join(dir, 'policy.json');
    const allow = [`127.0.0.1:${upstream.port}`];
    writeFileSync(policyPath, JSON.stringify({ allow }));
    const statsPath = join(dir, 'stats.json');
    const service: EgressService = await startEgressService({ policyPath, host: '127.0.0.1', port: 0, log: () => {}, statsPath, statsIntervalMs: 100 });
    cleanups.push(() => service.stop());

    const first = await until(statsPath, () => true);
    expect(Object.keys(first).sort()).toEqual(
      ['format_version', 'ts', 'started_at', 'policy_hash', 'open_connections', 'connections_total', 'requests_total', 'denied_total', 'bytes_up', 'bytes_down', 'last_activity'].sort(),
    );
    expect(first).toMatchObject({
      format_version: '1',
      policy_hash: appPolicyHash(allow),
      open_connections: 0,
      connections_total: 0,
      requests_total: 0,
      bytes_up: 0,
      bytes_down: 0,
      last_activity: null,
    });

    const tunnel = await rawRequest(service.port, connectRequest(`127.0.0.1:${upstream.port}`));
    const hello = await captureClientHello();
    tunnel.socket.write(hello);
    await tunnel.bytes(4);
    const open = await until(statsPath, (s) => s.open_connections === 1 && s.bytes_down === 4);
    expect(open).toMatchObject({ connections_total: 1, requests_total: 1, denied_total: 0, bytes_up: hello.length, bytes_down: 4 });
    expect(Date.parse(open.last_activity ?? '')).toBeGreaterThanOrEqual(Date.parse(first.started_at));

    expect((await rawRequest(service.port, connectRequest('127.0.0.1:9'))).status).toBe(403);
    tunnel.socket.destroy();
    const closed = await until(statsPath, (s) => s.open_connections === 0 && s.denied_total === 1);
    expect(closed).toMatchObject({ connections_total: 1, requests_total: 2, bytes_up: hello.length, bytes_down: 4 });
  });
});

describe('writeStatsFile', () => {
  it('replaces the file whole, at most once a second, and within a second of the last change', async () => {
    const dir = tempDir();
    const path = join(dir, 'stats.json');
    const stats = new LiveStats('sha256:x');
    const seen: StatsSnapshot[] = [];
    // Every rename onto the name is one write; a reader never sees a half-written file.
    const watcher = watch(dir, (_event, name) => {
      if (name === 'stats.json') seen.push(readStats(path));
    });
    cleanups.push(async () => watcher.close());
    const writer = writeStatsFile(stats, path, () => {});
    cleanups.push(() => writer.stop());

    const started = Date.now();
    while (Date.now() - started < 2500) {
      stats.bytes(1, 2);
      await sleep(10);
    }
    const total = readStats(path);
    await sleep(1100);
    const last = readStats(path);
    // What was written last (by the time a second has passed) holds every change.
    expect(last.bytes_up).toBeGreaterThan(total.bytes_up);
    expect(last.bytes_up).toBe(stats.snapshot().bytes_up);
    expect(last.bytes_down).toBe(2 * last.bytes_up);

    const times = [...new Set(seen.map((s) => s.ts))].map((ts) => Date.parse(ts));
    expect(times.length).toBeGreaterThanOrEqual(3);
    expect(times.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(990);
  });
});
