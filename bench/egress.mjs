// Egress and runtime figures (npm run bench runs this after the core figures):
//  - proxy overhead: a 64 MiB HTTPS download (3 each way, the middle one kept) and 50 pairs of
//    small HTTPS requests, each on a new connection, direct versus tunnelled through an
//    environment's egress proxy (CONNECT, SNI checked), made in turn by one client on the same
//    engine attached to both networks, so the pair sees the same machine (all traffic local; a
//    throwaway certificate made by openssl); the added time is the median of the pairs'
//    differences; repeated BENCH_EGRESS_RUNS times (default 5), per run and median/min/max;
//  - policy reload: 8 slow downloads through the proxy while its policy is rewritten and SIGHUP
//    sent 5 times (the downloaded host stays allowed): `dropped` must be 0;
//  - sandbox create time under runc versus runsc (whole-process apply of 8 environments).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { createFakeInternet } from '../test/support/fake-internet.mjs';
import { commandEnv } from './command-env.mjs';
import { benchNodeImage } from './node-image.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const WORK = fileURLToPath(new URL('./work/', import.meta.url));
const docker = new Docker();

function cli(dir, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env: commandEnv() });
  if (r.status !== 0) throw new Error(`sandboxshift ${args.join(' ')} failed: ${r.stderr}\n${(r.stdout ?? '').slice(-1500)}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function project(name, yaml) {
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, `${name}-`));
  writeFileSync(join(dir, 'sandboxshift.yaml'), yaml);
  return dir;
}

// Runs inside a container from the bench's Node image (bench/node-image.mjs) and prints JSON. Mode `paired`
// times HTTPS requests straight to the server and tunnelled through the proxy with CONNECT, in
// turn; mode `reload` starts K slow downloads through the proxy at once and reports how many
// arrived whole.
const CLIENT = `
const https = require('https'), http = require('http');
const [mode, server, proxy, host, count] = process.argv.slice(1);
const tunnel = () => new Promise((resolve, reject) => {
  http.request({ host: proxy, port: 3128, method: 'CONNECT', path: host + ':443' })
    .on('connect', (res, socket) => (res.statusCode === 200 ? resolve(socket) : reject(new Error('CONNECT ' + res.statusCode))))
    .on('error', reject).end();
});
// An agent whose connections are CONNECT tunnels through the proxy, with TLS inside.
class TunnelAgent extends https.Agent {
  createConnection(o, cb) {
    tunnel().then((sock) => cb(null, require('tls').connect({ socket: sock, servername: host, rejectUnauthorized: false })), cb);
  }
}
const get = (path, via = mode) => new Promise((resolve, reject) => {
  const base = { path, servername: host, headers: { host }, rejectUnauthorized: false, agent: false };
  const opts = via === 'direct'
    ? { ...base, host: server, port: 443 }
    : { ...base, agent: new TunnelAgent() };
  const t0 = process.hrtime.bigint();
  https.get(opts, (res) => {
    let n = 0;
    const done = (whole) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: n, status: res.statusCode, whole });
    res.on('data', (c) => n += c.length);
    res.on('end', () => done(res.complete));
    res.on('error', () => done(false));
    res.on('aborted', () => done(false));
  }).on('error', reject);
});
(async () => {
  if (mode === 'reload') {
    const results = await Promise.all(Array.from({ length: Number(count) }, () => get('/slow').catch((e) => ({ error: e.message }))));
    console.log(JSON.stringify({ mode, results }));
    return;
  }
  if (mode === 'paired') {
    // Direct and tunnelled requests in turn (which goes first alternates), each on a new
    // connection, so what the machine is doing at the time weighs on both alike.
    await get('/small', 'direct');
    await get('/small', 'proxy');
    const direct = [], proxied = [], added = [];
    for (let i = 0; i < 50; i++) {
      const order = i % 2 ? ['proxy', 'direct'] : ['direct', 'proxy'];
      const ms = {};
      for (const via of order) ms[via] = (await get('/small', via)).ms;
      direct.push(ms.direct);
      proxied.push(ms.proxy);
      added.push(ms.proxy - ms.direct);
    }
    const bigs = { direct: [], proxy: [] };
    for (let i = 0; i < 3; i++) for (const via of i % 2 ? ['proxy', 'direct'] : ['direct', 'proxy']) bigs[via].push(await get('/big', via));
    const mid = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const midBig = (xs) => [...xs].sort((a, b) => a.ms - b.ms)[1];
    const rate = (b) => b.bytes / 1048576 / (b.ms / 1000);
    const d = midBig(bigs.direct), p = midBig(bigs.proxy);
    console.log(JSON.stringify({ mode, direct_small_ms: mid(direct), proxied_small_ms: mid(proxied), added_ms: mid(added), direct_mib_s: rate(d), proxied_mib_s: rate(p), statuses: [d.status, p.status] }));
    return;
  }
  throw new Error('unknown mode ' + mode + ' (paired, reload)');
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

// The file server: /big is 64 MiB at once, /slow is SLOW_BYTES sent a piece at a time over about 16 s
// 4 s (long enough for several policy reloads to happen during it), anything else is 'ok'.
const SLOW_BYTES = 8 * 1048576;
const SERVER = `
const big = Buffer.alloc(64 * 1048576), piece = Buffer.alloc(${SLOW_BYTES} / 128);
require('https').createServer({ key: process.env.KEY, cert: process.env.CERT }, (q, r) => {
  if (q.url === '/big') return r.end(big);
  if (q.url !== '/slow') return r.end('ok');
  r.writeHead(200, { 'content-length': ${SLOW_BYTES} });
  let sent = 0;
  const tick = setInterval(() => { r.write(piece); if (++sent === 128) { clearInterval(tick); r.end(); } }, 125);
  r.on('close', () => clearInterval(tick));
}).listen(443);
`;

/** Starts a bench client container; `done` resolves with its JSON line. */
async function startClient(image, cmd, networks) {
  const [first, ...rest] = networks;
  const c = await docker.createContainer({ Image: image, Entrypoint: ['node', '-e', CLIENT], Cmd: cmd, User: '65532', HostConfig: { NetworkMode: first } });
  for (const n of rest) await docker.getNetwork(n).connect({ Container: c.id });
  await c.start();
  const done = (async () => {
    await c.wait();
    const logs = (await c.logs({ stdout: true, stderr: true })).toString('utf8').replace(/[\x00-\x08]/g, '');
    await c.remove({ force: true });
    const line = logs.split('\n').find((l) => l.includes('{"mode"'));
    if (!line) throw new Error(`bench client failed (${cmd.join(' ')} on ${networks.join(',')}): ${logs}`);
    return JSON.parse(line.slice(line.indexOf('{')));
  })();
  return { done };
}

const run = async (image, cmd, networks) => (await startClient(image, cmd, networks)).done;

/** median, min and max of a list of numbers. */
function spread(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median: +median.toFixed(3), min: +sorted[0].toFixed(3), max: +sorted[sorted.length - 1].toFixed(3) };
}

/**
 * Reloads with `sandboxshift apply`, as a user changes an allow list: K slow downloads in flight
 * while the list is widened and narrowed back several times (the download's host always allowed).
 * Counts downloads that did not arrive whole, and checks the proxy was never recreated.
 */
async function benchReload(image, proxyName, proxyIp, serverIp, network, dir, yamlFor, { downloads = 8, reloads = 4 } = {}) {
  const proxy = docker.getContainer(proxyName);
  const proxyId = (await proxy.inspect()).Id;
  const since = Math.floor(Date.now() / 1000) - 1;
  const client = await startClient(image, ['reload', serverIp, proxyIp, 'files.bench.test', String(downloads)], [network]);
  await new Promise((r) => setTimeout(r, 800));
  const applyMs = [];
  for (let i = 0; i < reloads; i++) {
    const allow = i % 2 === 0 ? ['files.bench.test', `extra-${i}.bench.test`] : ['files.bench.test'];
    writeFileSync(join(dir, 'sandboxshift.yaml'), yamlFor(allow));
    applyMs.push(Math.round(cli(dir, ['apply', '--auto-approve'])));
  }
  const { results } = await client.done;
  const whole = results.filter((r) => r.whole && r.bytes === SLOW_BYTES).length;
  const logs = (await proxy.logs({ stdout: true, stderr: true, since })).toString('utf8');
  const reloadLines = logs
    .split('\n')
    .map((l) => l.slice(l.indexOf('{')))
    .filter((l) => l.includes('"event":"policy"') && !l.includes('"trigger":"start"'))
    .map((l) => JSON.parse(l));
  const sameProxy = (await proxy.inspect()).Id === proxyId;
  if (!sameProxy) throw new Error('the proxy was recreated by an allow-list change: reload in place did not happen');
  return {
    downloads,
    reloads,
    via: 'sandboxshift apply',
    apply_ms: spread(applyMs),
    dropped: downloads - whole,
    proxy_kept: sameProxy,
    policy_lines: reloadLines.map((l) => ({ trigger: l.trigger, kept: l.kept, closed: l.closed })),
  };
}

export async function benchEgress({ runs = Number(process.env.BENCH_EGRESS_RUNS ?? 5) } = {}) {
  const name = 'bench-egress';
  const inet = 'ss-bench-inet';
  const yamlFor = (allow) =>
    `version: 1\nproject: ${name}\nimages:\n  busybox: { ref: sandboxshift/busybox:test }\nenvironments:\n  agent: { image: busybox, resources: { memory: 64m, pids: 64 }, egress: { allow: [${allow.join(', ')}] } }\n`;
  const dir = project(name, yamlFor(['files.bench.test']));
  cli(dir, ['apply', '--auto-approve']);
  await createFakeInternet(docker, inet);
  const tlsDir = mkdtempSync(join(WORK, 'tls-'));
  spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=files.bench.test', '-days', '1', '-keyout', join(tlsDir, 'k'), '-out', join(tlsDir, 'c')]);
  const [key, cert] = ['k', 'c'].map((f) => readFileSync(join(tlsDir, f), 'utf8'));
  rmSync(tlsDir, { recursive: true, force: true });
  const nodeImage = benchNodeImage();
  const server = await docker.createContainer({
    name: 'ss-bench-files',
    Image: nodeImage,
    User: '0',
    Entrypoint: ['node', '-e', SERVER],
    Env: [`KEY=${key}`, `CERT=${cert}`],
    HostConfig: { NetworkMode: inet },
    NetworkingConfig: { EndpointsConfig: { [inet]: { Aliases: ['files.bench.test'] } } },
  });
  try {
    await server.start();
    await new Promise((r) => setTimeout(r, 2000));
    const proxyName = `ss.${name}.agent.egress`;
    const network = `ss.${name}.agent.net`;
    const proxyInfo = await docker.getContainer(proxyName).inspect();
    await docker.getNetwork(inet).connect({ Container: proxyName });
    const proxyIp = proxyInfo.NetworkSettings.Networks[network].IPAddress;
    const serverIp = (await server.inspect()).NetworkSettings.Networks[inet].IPAddress;
    const image = nodeImage;
    if (!serverIp) throw new Error(`bench file server has no address: ${JSON.stringify((await server.inspect()).State)}`);
    const perRun = [];
    for (let i = 0; i < runs; i++) {
      // One client on both networks: straight to the server over the outside one, through the
      // proxy over the environment's internal one, request by request in turn.
      const r = await run(image, ['paired', serverIp, proxyIp, 'files.bench.test'], [network, inet]);
      if (r.statuses.some((st) => st !== 200)) throw new Error(`bench download answered ${r.statuses.join(', ')}`);
      perRun.push({
        direct_mib_s: +r.direct_mib_s.toFixed(1),
        proxied_mib_s: +r.proxied_mib_s.toFixed(1),
        throughput_ratio: +(r.proxied_mib_s / r.direct_mib_s).toFixed(3),
        direct_small_ms: +r.direct_small_ms.toFixed(2),
        proxied_small_ms: +r.proxied_small_ms.toFixed(2),
        // The median of the 50 pairs' differences.
        added_latency_ms: +r.added_ms.toFixed(2),
      });
    }
    return {
      runs: perRun,
      throughput_ratio: spread(perRun.map((r) => r.throughput_ratio)),
      added_latency_ms: spread(perRun.map((r) => r.added_latency_ms)),
      reload: await benchReload(image, proxyName, proxyIp, serverIp, network, dir, yamlFor),
    };
  } finally {
    await server.remove({ force: true });
    cli(dir, ['destroy', '--auto-approve', '--purge-volumes']);
    for (const n of await docker.listNetworks({ filters: { label: [`io.sandboxshift.project=${name}`] } })) await docker.getNetwork(n.Id).remove();
    await docker.getNetwork(inet).remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchRuntimes(count = 8) {
  const out = {};
  for (const runtime of ['runc', 'runsc']) {
    const name = `bench-rt-${runtime}`;
    const envs = Array.from({ length: count }, (_, i) => `  e${i}: {}`).join('\n');
    const dir = project(
      name,
      `version: 1\nproject: ${name}\nimages:\n  busybox: { ref: sandboxshift/busybox:test }\ndefaults:\n  image: busybox\n  runtime: ${runtime}\n  resources: { memory: 64m, pids: 64 }\nenvironments:\n${envs}\n`,
    );
    const ms = cli(dir, ['apply', '--auto-approve', '--parallelism', '4']);
    cli(dir, ['destroy', '--auto-approve', '--purge-volumes']);
    rmSync(dir, { recursive: true, force: true });
    out[runtime] = { environments: count, apply_ms: Math.round(ms), ms_per_environment: Math.round(ms / count) };
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // BENCH_ONLY=egress or =runtimes runs one section.
  const only = process.env.BENCH_ONLY ?? 'egress,runtimes';
  if (only.includes('egress')) console.log('egress overhead', JSON.stringify(await benchEgress(), null, 2));
  if (only.includes('runtimes')) console.log('runc vs runsc create', JSON.stringify(await benchRuntimes(), null, 2));
}
