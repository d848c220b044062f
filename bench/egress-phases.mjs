// Where a new connection's time goes through the egress proxy (issue 9), in the bench's topology:
// a client container on an internal network, the proxy on it and on an outside network, an HTTPS
// server there. Each round runs one client attached to both networks, which opens N new
// connections to every target in turn (straight to the server, and through each proxy variant;
// the order rotates) and times each phase: TCP connect, CONNECT answered (200), TLS done,
// response in. A proxy's added time is, per round, the median over the turns of its response
// time minus the direct one's in the same turn. With cgroup v1 accounting it also reports each
// proxy's CPU per connection (user + system, the kernel's network path included).
//
//   node bench/egress-phases.mjs
//   BENCH_PHASES_ROUNDS=11 BENCH_PHASES_N=100                    rounds, connections per client
//   BENCH_PHASES_VARIANTS=old=/tmp/old-proxy.js,bin=/tmp/proxy-bin,mini,tinyproxy    more proxies
//     beside `current` (the image built from images/egress-proxy): a bundled Node proxy from an
//     older commit (a `.js` file), a static binary (anything else: run as the entrypoint), `mini`, a 20-line Node
//     CONNECT proxy (resolve, connect, 200, pipe) as the floor for a Node proxy here, or
//     `tinyproxy`, Debian's tinyproxy (a CONNECT proxy in C, threads, resolving every request)
//     as a peer that is not Node: its package is fetched with `apt-get download` into
//     bench/work/ and unpacked there, never installed (no service started)
//   BENCH_PHASES_IMAGE=...    an image with Node for the clients, the server and Node peers
//                             (default: sandboxshift/bench-node:1, built once by bench/node-image.mjs)
//
// Peers run from bind-mounted files in the Node image, so any two proxies compare in one topology.
// The outside network is a documentation range (bench/egress.mjs's fake internet) when one is
// free, else a private /28 that the policy then allows by address entry.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { createFakeInternet } from '../test/support/fake-internet.mjs';
import { benchNodeImage } from './node-image.mjs';

const docker = new Docker();
const ROUNDS = Number(process.env.BENCH_PHASES_ROUNDS ?? 7);
const N = Number(process.env.BENCH_PHASES_N ?? 100);
const HOST = 'files.bench.test';
const EGRESS_CONTEXT = fileURLToPath(new URL('../images/egress-proxy/', import.meta.url));
const WORK = fileURLToPath(new URL('./work/', import.meta.url));
const P = `ss-phases-${process.pid}`;

const MINI = `const net=require('net');require('http').createServer().on('connect',(req,c,head)=>{const [h,p]=req.url.split(':');require('dns').lookup(h,(e,a)=>{if(e)return c.destroy();const u=net.connect({host:a,port:+p,noDelay:true},()=>{c.setNoDelay(true);c.write('HTTP/1.1 200 Connection Established\\r\\n\\r\\n');if(head.length)u.write(head);u.pipe(c);c.pipe(u);});u.on('error',()=>c.destroy());c.on('error',()=>u.destroy());});}).listen(3128,process.env.SANDBOXSHIFT_EGRESS_HOST);`;

// The peer's settings: the bench's port, tunnels to 443 only, no logging, no Via header.
const TINYPROXY_CONF = 'Port 3128\nTimeout 600\nMaxClients 100\nLogLevel Critical\nConnectPort 443\nDisableViaHeader Yes\n';

/** Debian's tinyproxy binary, downloaded (not installed) into bench/work/tinyproxy/ once. */
function tinyproxyBinary() {
  const root = join(WORK, 'tinyproxy');
  const bin = join(root, 'usr', 'bin', 'tinyproxy');
  if (existsSync(bin)) return bin;
  mkdirSync(root, { recursive: true });
  const got = spawnSync('apt-get', ['download', 'tinyproxy-bin'], { cwd: root, encoding: 'utf8' });
  const deb = got.status === 0 ? readdirSync(root).find((f) => f.startsWith('tinyproxy-bin_') && f.endsWith('.deb')) : undefined;
  if (!deb) throw new Error(`the tinyproxy peer needs Debian's tinyproxy-bin package: apt-get download failed: ${got.stderr || got.error?.message}`);
  const unpacked = spawnSync('dpkg-deb', ['-x', deb, '.'], { cwd: root, encoding: 'utf8' });
  if (unpacked.status !== 0 || !existsSync(bin)) throw new Error(`could not unpack ${deb}: ${unpacked.stderr}`);
  return bin;
}

// One client attached to both networks opens N new connections to each target in turn (straight
// to the server, then through each proxy; the order rotates every round of targets, so what the
// machine does at a moment weighs on all alike) and times each phase. One JSON line: per target
// the median of each phase's end (ms from the start of the connection), and for each proxy the
// median over the N turns of its response time minus the direct one's in the same turn.
const CLIENT = `
const net = require('net'), tls = require('tls');
const [server, host, n, targetsJson] = process.argv.slice(1);
const targets = JSON.parse(targetsJson);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const request = 'GET / HTTP/1.1\\r\\nhost: ' + host + '\\r\\n\\r\\n';
function one(proxy) {
  return new Promise((resolve, reject) => {
    const t0 = now(), at = {};
    const overTls = (s) => {
      s.on('secureConnect', () => { at.tls = now() - t0; s.write(request); });
      let body = '';
      s.on('data', (d) => { body += d; if (body.endsWith('ok')) { at.response = now() - t0; s.destroy(); resolve(at); } });
      s.on('error', reject);
    };
    if (!proxy) {
      const s = tls.connect({ host: server, port: 443, servername: host, rejectUnauthorized: false });
      s.once('connect', () => (at.tcp = now() - t0));
      return overTls(s);
    }
    const c = net.connect({ host: proxy, port: 3128, noDelay: true }, () => {
      at.tcp = now() - t0;
      c.write('CONNECT ' + host + ':443 HTTP/1.1\\r\\nhost: ' + host + ':443\\r\\n\\r\\n');
    });
    let head = '';
    const onHead = (d) => {
      head += d;
      if (!head.includes('\\r\\n\\r\\n')) return;
      c.off('data', onHead);
      if (!/^HTTP\\/1\\.[01] 200/.test(head)) return reject(new Error(head));
      at.connected = now() - t0;
      overTls(tls.connect({ socket: c, servername: host, rejectUnauthorized: false }));
    };
    c.on('data', onHead);
    c.on('error', reject);
  });
}
(async () => {
  for (const t of targets) { await one(t.proxy); await one(t.proxy); }
  const all = Object.fromEntries(targets.map((t) => [t.name, []]));
  const added = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let i = 0; i < Number(n); i++) {
    const turn = {};
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(i + k) % targets.length];
      turn[t.name] = await one(t.proxy);
      all[t.name].push(turn[t.name]);
    }
    for (const t of targets) added[t.name].push(turn[t.name].response - turn.direct.response);
  }
  const median = (xs) => { const v = xs.filter((x) => x !== undefined).sort((a, b) => a - b); return v.length ? v[v.length >> 1] : null; };
  const out = {};
  for (const t of targets) {
    const of = (k) => median(all[t.name].map((x) => x[k]));
    out[t.name] = { tcp: of('tcp'), connected: of('connected'), tls: of('tls'), response: of('response'), added: median(added[t.name]) };
  }
  console.log(JSON.stringify({ mode: 'paired', targets: out }));
})().catch((e) => { console.error(e.message); process.exit(1); });`;

const SERVER = `require('https').createServer({ key: process.env.KEY, cert: process.env.CERT }, (q, r) => r.end('ok')).listen(443);`;

/** The proxy as it is now: its image built from images/egress-proxy (the engine's layer cache makes a rebuild quick). */
function currentProxyImage() {
  const tag = 'sandboxshift/bench-egress:current';
  const built = spawnSync('docker', ['build', '-q', '-t', tag, EGRESS_CONTEXT], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`could not build the egress proxy image from ${EGRESS_CONTEXT}: ${built.stderr}`);
  return tag;
}

/** A /28 for the internal network, tried block by block (other projects may hold some). */
async function internalNetwork(name) {
  for (let block = 0; block < 16; block++) {
    const subnet = `10.213.${240 + block}.0/28`;
    try {
      await docker.createNetwork({ Name: name, Internal: true, IPAM: { Config: [{ Subnet: subnet }] } });
      return subnet.replace(/\.0\/28$/, '.');
    } catch (err) {
      if (!/overlap/i.test(String(err?.json?.message ?? err?.message))) throw err;
    }
  }
  throw new Error('no free /28 in 10.213.240.0/20 for the internal network');
}

async function outsideNetwork(name) {
  try {
    return { subnet: await createFakeInternet(docker, name), allowByAddress: false };
  } catch {
    for (let block = 0; block < 16; block++) {
      const subnet = `10.213.${224 + block}.0/28`;
      try {
        await docker.createNetwork({ Name: name, IPAM: { Config: [{ Subnet: subnet }] } });
        return { subnet, allowByAddress: true };
      } catch (err) {
        if (!/overlap/i.test(String(err?.json?.message ?? err?.message))) throw err;
      }
    }
    throw new Error('no free /28 for the outside network');
  }
}

/** CPU time (ns) a container has used, or null without cgroup v1 accounting. */
function cpuNs(id) {
  const file = `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`;
  return existsSync(file) ? Number(readFileSync(file, 'utf8')) : null;
}

/** Runs the client on both networks; its JSON line. */
async function runClient(image, args, networks) {
  const [first, ...rest] = networks;
  const c = await docker.createContainer({ Image: image, Entrypoint: ['node', '-e', CLIENT], Cmd: args, User: '65532', HostConfig: { NetworkMode: first } });
  try {
    for (const n of rest) await docker.getNetwork(n).connect({ Container: c.id });
    await c.start();
    await c.wait();
    const logs = (await c.logs({ stdout: true, stderr: true })).toString('utf8').replace(/[\x00-\x08]/g, '');
    const line = logs.split('\n').find((l) => l.includes('{"mode"'));
    if (!line) throw new Error(`phases client failed: ${logs}`);
    return JSON.parse(line.slice(line.indexOf('{"mode"')));
  } finally {
    await c.remove({ force: true });
  }
}

const spread = (xs) => {
  const s = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const round = (x) => +x.toFixed(3);
  return { median: round(s[s.length >> 1]), min: round(s[0]), max: round(s[s.length - 1]) };
};

export async function benchEgressPhases() {
  const variants = [{ name: 'current', image: currentProxyImage() }];
  for (const entry of (process.env.BENCH_PHASES_VARIANTS ?? '').split(',').filter(Boolean)) {
    const [name, file] = entry.split('=');
    if (name === 'tinyproxy' && !file) variants.push({ name, tinyproxy: tinyproxyBinary() });
    else if (file && !file.endsWith('.js')) variants.push({ name, native: file });
    else variants.push(name === 'mini' && !file ? { name, mini: true } : { name, file });
  }
  const image = process.env.BENCH_PHASES_IMAGE ?? benchNodeImage();
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, 'phases-'));
  const containers = [];
  const inNet = `${P}-in`;
  const outNet = `${P}-out`;
  try {
    const prefix = await internalNetwork(inNet);
    const outside = await outsideNetwork(outNet);
    spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${HOST}`, '-days', '1', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')]);
    const [key, cert] = ['k', 'c'].map((f) => readFileSync(join(dir, f), 'utf8'));
    writeFileSync(join(dir, 'policy.json'), JSON.stringify({ allow: [HOST, ...(outside.allowByAddress ? [outside.subnet] : [])] }));
    const server = await docker.createContainer({
      name: `${P}-server`,
      Image: image,
      User: '0',
      Entrypoint: ['node', '-e', SERVER],
      Env: [`KEY=${key}`, `CERT=${cert}`],
      HostConfig: { NetworkMode: outNet },
      NetworkingConfig: { EndpointsConfig: { [outNet]: { Aliases: [HOST] } } },
    });
    containers.push(server);
    await server.start();
    for (const [i, v] of variants.entries()) {
      v.address = `${prefix}${2 + i}`;
      const binds = [`${join(dir, 'policy.json')}:/etc/sandboxshift/egress.json:ro`];
      if (v.file) binds.push(`${v.file}:/opt/sandboxshift-egress/proxy.js:ro`);
      if (v.native) binds.push(`${v.native}:/usr/local/bin/egress-native:ro`);
      if (v.tinyproxy) {
        writeFileSync(join(dir, 'tinyproxy.conf'), TINYPROXY_CONF);
        binds.push(`${v.tinyproxy}:/usr/local/bin/tinyproxy:ro`, `${join(dir, 'tinyproxy.conf')}:/etc/tinyproxy.conf:ro`);
      }
      const c = await docker.createContainer({
        name: `${P}-proxy-${v.name}`,
        Image: v.image ?? image,
        User: '65532:65532',
        Entrypoint: v.image
          ? undefined
          : v.tinyproxy
            ? ['/usr/local/bin/tinyproxy', '-d', '-c', '/etc/tinyproxy.conf']
            : v.native
              ? ['/usr/local/bin/egress-native']
              : v.mini
                ? ['node', '-e', MINI]
                : ['node', '/opt/sandboxshift-egress/proxy.js'],
        Env: ['SANDBOXSHIFT_EGRESS_POLICY=/etc/sandboxshift/egress.json', 'SANDBOXSHIFT_EGRESS_PORT=3128', `SANDBOXSHIFT_EGRESS_HOST=${v.address}`],
        // As the real proxy runs (src/engine/egress-ops.ts).
        HostConfig: { NetworkMode: inNet, Binds: binds, Memory: 128 * 1024 * 1024, PidsLimit: 128, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'] },
        NetworkingConfig: { EndpointsConfig: { [inNet]: { IPAMConfig: { IPv4Address: v.address } } } },
      });
      containers.push(c);
      await docker.getNetwork(outNet).connect({ Container: c.id });
      await c.start();
      v.id = c.id;
    }
    await new Promise((r) => setTimeout(r, 1500));
    const serverIp = (await server.inspect()).NetworkSettings.Networks[outNet].IPAddress;
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const targets = [{ name: 'direct' }, ...variants.map((v) => ({ name: v.name, proxy: v.address }))];
      const before = variants.map((v) => cpuNs(v.id));
      const { targets: row } = await runClient(image, [serverIp, HOST, String(N), JSON.stringify(targets)], [inNet, outNet]);
      variants.forEach((v, k) => {
        const after = cpuNs(v.id);
        row[v.name].proxy_cpu_us_per_connection = before[k] === null || after === null ? null : (after - before[k]) / 1000 / (N + 2);
      });
      rounds.push(row);
    }
    const result = {
      rounds: ROUNDS,
      connections_per_client: N,
      outside: outside.allowByAddress ? 'private /28 allowed by address' : 'documentation range',
      direct_response_ms: spread(rounds.map((x) => x.direct.response)),
    };
    for (const v of variants) {
      const at = (x) => x[v.name];
      result[v.name] = {
        // Per round, the median of the turns' differences from the direct connection.
        added_ms: spread(rounds.map((x) => at(x).added)),
        phases_ms: {
          connect_to_proxy: spread(rounds.map((x) => at(x).tcp)),
          connect_answered: spread(rounds.map((x) => at(x).connected - at(x).tcp)),
          tls: spread(rounds.map((x) => at(x).tls - at(x).connected)),
          response: spread(rounds.map((x) => at(x).response - at(x).tls)),
        },
        proxy_cpu_us_per_connection: spread(rounds.map((x) => at(x).proxy_cpu_us_per_connection)),
        ...(v.name === 'current' ? {} : { minus_current_ms: spread(rounds.map((x) => at(x).response - x.current.response)) }),
      };
    }
    return result;
  } finally {
    for (const c of containers) await c.remove({ force: true }).catch(() => {});
    for (const n of [inNet, outNet])
      await docker
        .getNetwork(n)
        .remove()
        .catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await benchEgressPhases(), null, 2));
