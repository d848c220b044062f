// Egress as planned resources. An environment with an allow list gets its own internal network
// (a /28 from EGRESS_POOL, chosen by the planner) and a proxy container at the subnet's .2,
// which is the environment's only way out. The proxy's allow list can change without touching
// the environment: a running proxy reloads its policy in place, else it is recreated at the
// same address.
import { hashOf } from './hash.js';

/** An environment's egress network and proxy, as planned: what the engine creates. */
export interface EgressPlan {
  network: string;
  subnet: string;
  proxyName: string;
  proxyAddress: string;
  proxyImage: string;
  outsideNetwork: string;
  allow: string[];
  /** How the host is kept off the environment network (see gatewayIsolationFor). */
  gatewayIsolation: GatewayIsolation;
}

/** Where internal sandbox networks are carved from, /28 at a time. */
export const EGRESS_POOL = { base: [10, 213, 0, 0] as const, prefix: 16, blockPrefix: 28 };

/**
 * Docker gives the host the gateway address (.1) on every bridge network, internal ones too, so
 * a sandbox could reach any host service listening on all addresses. The ways to take it away:
 *  - `inhibit-ipv4`: the bridge option inhibit_ipv4, so the host gets no IPv4 address on the
 *    bridge at all (Docker 20.10 has it); checked by hand and by the egress e2e;
 *  - `gateway-mode-isolated`: Docker 28's native isolated gateway mode for internal networks
 *    (gateway_mode_ipv4=isolated), used when the engine is new enough to have it;
 *  - `cni-no-gateway`: Podman with the CNI network backend writes an internal network as a CNI
 *    bridge with `isGateway: false`, so the host bridge gets no IPv4 address (Podman ignores
 *    Docker's bridge options; netavark gives the host the gateway on internal networks too, so
 *    it has no mechanism). The host bridge still has an IPv6 link-local address, which a
 *    container reaches over its own link-local one: the sandbox and its proxy run with IPv6
 *    off (IPV6_OFF_SYSCTLS), as Docker does by itself.
 * Either way the sandbox and its proxy still talk across the bridge.
 */
export type GatewayIsolation = 'inhibit-ipv4' | 'gateway-mode-isolated' | 'cni-no-gateway';

export const GATEWAY_ISOLATION_OPTION = 'com.docker.network.bridge.inhibit_ipv4';
export const GATEWAY_MODE_OPTION = 'com.docker.network.bridge.gateway_mode_ipv4';

/** The first engine release with an isolated gateway mode for internal networks. */
export const GATEWAY_MODE_SINCE = 28;

/** The one Podman network backend whose internal networks give the host no address. */
export const PODMAN_ISOLATING_BACKEND = 'cni';

/** Sysctls that turn IPv6 off in a container (no link-local path to the host bridge). */
export const IPV6_OFF_SYSCTLS: Readonly<Record<string, string>> = { 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' };

/** What the planner knows of the engine for this choice. */
export interface EngineKind {
  engineVersion: string;
  engineFlavour?: 'podman';
  /** Podman's network backend (libpod info `host.networkBackend`): `cni` or `netavark`. */
  podmanNetworkBackend?: string;
}

/**
 * The mechanism this engine gets: by version on Docker (`info` ServerVersion, e.g.
 * `20.10.24+dfsg1`); on Podman only with the CNI backend, else null (egress is refused).
 */
export function gatewayIsolationFor(engine: EngineKind): GatewayIsolation | null {
  if (engine.engineFlavour === 'podman') return engine.podmanNetworkBackend === PODMAN_ISOLATING_BACKEND ? 'cni-no-gateway' : null;
  const major = /^(\d+)\./.exec(engine.engineVersion)?.[1];
  return major !== undefined && Number(major) >= GATEWAY_MODE_SINCE ? 'gateway-mode-isolated' : 'inhibit-ipv4';
}

/** The network driver options that set it up (none on Podman: an internal network is enough there). */
export function gatewayIsolationOptions(isolation: GatewayIsolation): Record<string, string> {
  if (isolation === 'cni-no-gateway') return {};
  return isolation === 'gateway-mode-isolated' ? { [GATEWAY_MODE_OPTION]: 'isolated' } : { [GATEWAY_ISOLATION_OPTION]: 'true' };
}

/** Whether containers on a network of this mechanism need IPV6_OFF_SYSCTLS (Docker turns IPv6 off itself). */
export function needsIpv6Off(isolation: GatewayIsolation): boolean {
  return isolation === 'cni-no-gateway';
}

/** A network as the engine's network list or inspect shows it (compatible API). */
export interface ListedNetwork {
  Internal?: boolean;
  Options?: Readonly<Record<string, string>> | null;
  IPAM?: { Config?: ReadonlyArray<{ Gateway?: string }> | null } | null;
}

/**
 * Which mechanism a network shows, or null when the host has an address on it. Docker: by its
 * options. Podman: an internal network whose subnets have no gateway (CNI shows `<nil>`;
 * netavark gives every subnet one).
 */
export function gatewayIsolationOf(n: ListedNetwork, flavour: 'docker' | 'podman' = 'docker'): GatewayIsolation | null {
  if (flavour === 'podman') {
    const configs = n.IPAM?.Config ?? [];
    const noGateway = configs.length > 0 && configs.every((c) => !c.Gateway || c.Gateway === '<nil>');
    return n.Internal === true && noGateway ? 'cni-no-gateway' : null;
  }
  const options = n.Options ?? undefined;
  if (options?.[GATEWAY_MODE_OPTION] === 'isolated') return 'gateway-mode-isolated';
  if (options?.[GATEWAY_ISOLATION_OPTION] === 'true') return 'inhibit-ipv4';
  return null;
}

const MECHANISM_TEXT: Record<GatewayIsolation, string> = {
  'inhibit-ipv4': 'bridge option inhibit_ipv4',
  'gateway-mode-isolated': 'isolated gateway mode',
  'cni-no-gateway': 'CNI bridge without gateway, IPv6 off in the containers',
};

/** The mechanism in words: `bridge option inhibit_ipv4`, ... */
export function mechanismText(isolation: GatewayIsolation): string {
  return MECHANISM_TEXT[isolation];
}

/** How an environment with an allow list is held to it, in one line (plan, egress ENV). */
export function enforcementText(e: Pick<EgressPlan, 'proxyAddress' | 'gatewayIsolation'>, proxyPort: number): string {
  return `internal network (no route out), no host address on it (${mechanismText(e.gatewayIsolation)}), only way out the proxy at ${e.proxyAddress}:${proxyPort}`;
}

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

/** The policy's identity: sha256 of the canonical JSON of the policy file the proxy reads. */
export function policyHash(allow: readonly string[]): string {
  return `sha256:${hashOf({ allow: [...allow] })}`;
}
