// A public-looking /24 for a fake internet on this machine (the egress proxy refuses private
// ranges) that hides nothing real: no host route, no resolver, and not the package mirror's
// address. Shared by the egress tests and the benchmark.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { isIPv4 } from 'node:net';

/** An IPv4 address in /proc/net/route's little-endian hex, as a number. */
const routeHex = (hex) => Number.parseInt(hex.match(/../g).reverse().join(''), 16) >>> 0;
const ipNumber = (ip) => ip.split('.').reduce((n, b) => ((n << 8) | Number(b)) >>> 0, 0);

/**
 * The routes of Podman's bridges (CNI's cni-podmanN, netavark's podmanN): the blocks Podman holds
 * on the host. Docker does not refuse a subnet that overlaps them (it knows only its own
 * networks), so a fake internet made through Docker skips them itself; Podman refuses them.
 */
function podmanRoutes() {
  const routes = [];
  for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
    const [iface, dest, , , , , , mask] = line.split('\t');
    if (iface && /^(cni-)?podman/.test(iface) && dest && mask) routes.push({ dest: routeHex(dest), mask: routeHex(mask) });
  }
  return routes;
}

function overlapsRoute(subnet, routes) {
  const [ip, bits] = subnet.split('/');
  const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  const net = ipNumber(ip) & mask;
  // Two prefixes overlap when each agrees with the other under the shorter of the two masks.
  return routes.some((r) => {
    const m = (mask & r.mask) >>> 0;
    return (net & m) >>> 0 === (r.dest & m) >>> 0;
  });
}

export function fakeInternetPrefixes() {
  const avoid = new Set();
  const prefix = (ip) => ip.split('.').slice(0, 3).join('.');
  for (const line of readFileSync('/etc/resolv.conf', 'utf8').split('\n')) {
    const ip = /^nameserver\s+(\S+)/.exec(line)?.[1];
    if (ip && isIPv4(ip)) avoid.add(prefix(ip));
  }
  for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
    const [iface, dest] = line.split('\t');
    // Docker's and Podman's bridges are a block each, not a whole /24: createFakeInternet
    // leaves them to the engine (Docker's, Podman's refusal) or skips them (Podman's, via Docker).
    if (!iface || /^(docker0|br-|(cni-)?podman)/.test(iface)) continue;
    if (dest && dest !== '00000000')
      avoid.add(
        prefix(
          dest
            .match(/../g)
            .reverse()
            .map((h) => parseInt(h, 16))
            .join('.'),
        ),
      );
  }
  const dir = '/etc/apt/sources.list.d';
  const lines = readdirSync(dir)
    .map((f) => readFileSync(`${dir}/${f}`, 'utf8'))
    .join('\n')
    .split('\n')
    .filter((l) => /^(URIs:|deb )/.test(l.trim()));
  for (const host of lines
    .join(' ')
    .match(/https?:\/\/([^/\s:]+)/g)
    ?.map((u) => u.replace(/^https?:\/\//, '')) ?? []) {
    let answer = '';
    try {
      answer = execFileSync('getent', ['ahostsv4', host], { encoding: 'utf8' });
    } catch {
      continue; // a mirror that does not resolve cannot be hidden by a bridge either
    }
    const ip = answer.split('\n')[0]?.split(' ')[0];
    if (ip && isIPv4(ip)) avoid.add(prefix(ip));
  }
  return ['198.51.100', '203.0.113', '192.0.2'].filter((c) => !avoid.has(c));
}

/**
 * Creates a fake-internet network on a free /28 of those /24s. Test files run in parallel, so
 * two may race for a block: the engine refuses an overlapping one, and the next is tried.
 */
export async function createFakeInternet(docker, name, labels = {}) {
  for (const prefix of fakeInternetPrefixes()) {
    for (let block = 0; block < 16; block++) {
      const subnet = `${prefix}.${block * 16}/28`;
      if (overlapsRoute(subnet, podmanRoutes())) continue;
      try {
        await docker.createNetwork({ Name: name, IPAM: { Config: [{ Subnet: subnet }] }, Labels: labels });
        return subnet;
      } catch (err) {
        // Docker: "Pool overlaps"; Podman: "subnet ... is already used on the host or by another config".
        if (!/overlap|already used/i.test(String(err?.json?.message ?? err?.message))) throw err;
      }
    }
  }
  throw new Error('no free /28 for a fake internet in the documentation ranges not used by this host');
}
