// Egress as planned resources. An environment with an allow list gets its own internal network
// (a /28 from EGRESS_POOL, chosen by the planner) and a proxy container at the subnet's .2,
// which is the environment's only way out. The proxy's allow list can change without touching
// the environment: only the proxy is recreated, at the same address.

/** An environment's egress network and proxy, as planned: what the engine creates. */
export interface EgressPlan {
  network: string;
  subnet: string;
  proxyName: string;
  proxyAddress: string;
  proxyImage: string;
  outsideNetwork: string;
  allow: string[];
}

/** Where internal sandbox networks are carved from, /28 at a time. */
export const EGRESS_POOL = { base: [10, 213, 0, 0] as const, prefix: 16, blockPrefix: 28 };

/**
 * Docker gives the host the gateway address (.1) on every bridge network, internal ones too, so
 * a sandbox could reach any host service listening on all addresses. With this bridge option the
 * host gets no IPv4 address on the bridge at all (Docker 20.10 has it; no newer engine needed);
 * the sandbox and its proxy still talk across the bridge. Checked by hand and by the egress e2e.
 */
export const GATEWAY_ISOLATION_OPTION = 'com.docker.network.bridge.inhibit_ipv4';

export function subnetAt(index: number): string {
  const [a, b] = EGRESS_POOL.base;
  const offset = index * 16;
  return `${a}.${b}.${Math.floor(offset / 256)}.${offset % 256}/${EGRESS_POOL.blockPrefix}`;
}

export const POOL_BLOCKS = 2 ** (EGRESS_POOL.blockPrefix - EGRESS_POOL.prefix);

/** The proxy's address in an environment subnet: network address + 2 (+1 is the gateway). */
export function proxyAddress(subnet: string): string {
  const [ip] = subnet.split('/');
  const parts = (ip ?? '').split('.').map(Number);
  return `${parts[0]}.${parts[1]}.${parts[2]}.${(parts[3] ?? 0) + 2}`;
}

/**
 * The sandbox's address in an environment subnet: network address + 3, fixed like the proxy's.
 * A dynamic one is handed out again when the engine restarts, and the sandbox, started first,
 * could take the proxy's .2: the proxy then fails to start ("Address already in use") and the
 * restart policy does not retry it (seen with Docker 20.10; test/e2e/egress-engine-restart.test.ts).
 */
export function sandboxAddress(subnet: string): string {
  const [ip] = subnet.split('/');
  const parts = (ip ?? '').split('.').map(Number);
  return `${parts[0]}.${parts[1]}.${parts[2]}.${(parts[3] ?? 0) + 3}`;
}

export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, p) => n * 256 + Number(p), 0);
}

/** Whether two IPv4 CIDRs overlap (non-IPv4 never does, here). */
export function overlaps(a: string, b: string): boolean {
  const parse = (c: string) => {
    const [ip, bits] = c.split('/');
    if (!ip || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return null;
    const size = 2 ** (32 - Number(bits ?? 32));
    const start = Math.floor(ipv4ToInt(ip) / size) * size;
    return [start, start + size - 1] as const;
  };
  const x = parse(a);
  const y = parse(b);
  return !!x && !!y && x[0] <= y[1] && y[0] <= x[1];
}

/** Differences between two allow lists, for the plan and for flagging widening. */
export function allowListDiff(before: readonly string[], after: readonly string[]): { added: string[]; removed: string[] } {
  return { added: after.filter((a) => !before.includes(a)), removed: before.filter((b) => !after.includes(b)) };
}
