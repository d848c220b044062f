// Egress planning: subnets for new environment networks (never overlapping anything on the
// engine), the proxy each allow list needs, and what changed in an allow list.
import type { DesiredEnvironment, DesiredState } from '../model/desired.js';
import { POOL_BLOCKS, allowListDiff, needsIpv6Off, overlaps, proxyAddress, subnetAt, type GatewayIsolation } from '../model/egress.js';
import { sha256 } from '../model/hash.js';
import { networkName, outsideNetworkName, proxyName } from '../model/names.js';
import type { ObservedState } from '../model/observed.js';
import { bareChange, type EgressPlan, type EnvironmentStep, type NetworkChange, type Reason } from './types.js';

export const OUTSIDE_NETWORK_ADDRESS = 'network.egress-out';

/**
 * Where a project's search for free /28s starts: spread over the pool by its name, so two
 * projects planning at the same moment on one engine do not both pick the first free block
 * (the engine then refused the second create-network: "Pool overlaps").
 */
export function poolStart(project: string): number {
  return parseInt(sha256(`egress-pool:${project}`).slice(0, 8), 16) % POOL_BLOCKS;
}

/** Subnet per environment with an allow list: its network's, or the next free /28 of the pool from the project's start. */
export function allocateSubnets(desired: DesiredState, observed: ObservedState): Map<string, string> | string {
  const out = new Map<string, string>();
  const taken = [...observed.usedSubnets];
  const start = poolStart(desired.project);
  let tried = 0;
  for (const d of [...desired.environments.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (d.egress.mode !== 'allow') continue;
    const existing = observed.networks.get(d.name)?.subnets[0];
    if (existing) {
      out.set(d.name, existing);
      continue;
    }
    const at = () => subnetAt((start + tried) % POOL_BLOCKS);
    while (tried < POOL_BLOCKS && taken.some((t) => overlaps(t, at()))) tried++;
    if (tried >= POOL_BLOCKS) return 'no free /28 left in 10.213.0.0/16 for environment networks';
    const subnet = at();
    taken.push(subnet);
    out.set(d.name, subnet);
  }
  return out;
}

export function egressPlanFor(project: string, d: DesiredEnvironment, subnet: string, proxyImage: string, gatewayIsolation: GatewayIsolation): EgressPlan | null {
  if (d.egress.mode !== 'allow') return null;
  return {
    network: networkName(project, d.name),
    subnet,
    proxyName: proxyName(project, d.name),
    proxyAddress: proxyAddress(subnet),
    proxyImage,
    outsideNetwork: outsideNetworkName(project),
    allow: [...d.egress.allow],
    gatewayIsolation,
  };
}

export interface EgressWork {
  /** Steps before the environment's container is (re)created or left alone. */
  steps: EnvironmentStep[];
  reasons: Reason[];
  security: string[];
  /** The internal network is gone while the container exists: it must be replaced. */
  networkLost: boolean;
}

export function egressWork(d: DesiredEnvironment, e: EgressPlan | null, observed: ObservedState): EgressWork {
  const proxy = observed.proxies.get(d.name);
  const network = observed.networks.get(d.name);
  const steps: EnvironmentStep[] = [];
  const reasons: Reason[] = [];
  const security: string[] = [];
  if (!e) {
    // No allow list (any more): take the proxy and the network away.
    if (proxy) steps.push('remove-proxy');
    if (network) steps.push('remove-network');
    if (proxy || network) reasons.push({ code: 'egress_narrowed', attribute: 'egress', message: 'egress allow list removed: proxy and network removed' });
    return { steps, reasons, security, networkLost: false };
  }
  // A network made without the gateway isolated lets the sandbox reach the host: made again.
  const open = !!network && !network.gatewayIsolated;
  if (open) steps.push(...(proxy ? (['remove-proxy'] as EnvironmentStep[]) : []), 'remove-network');
  if (!network || open) steps.push('create-network');
  // What the proxy enforces: its policy records' list after a reload in place, else its label.
  const recorded = proxy?.recorded;
  const unknown = recorded && 'unknown' in recorded ? recorded.unknown : null;
  const before = recorded && 'allow' in recorded ? recorded.allow : unknown ? null : (proxy?.allow ?? null);
  const sameAllow = !!before && before.length === e.allow.length && before.every((a, i) => a === e.allow[i]);
  // Only the allow list differs: the running proxy reloads it, keeping the connections it still allows.
  // On Podman/CNI the proxy too runs with IPv6 off (the host bridge's link-local address is on its side).
  const ipv6On = !!proxy && needsIpv6Off(e.gatewayIsolation) && proxy.ipv6Off === false;
  const healthy = !!proxy && proxy.image === e.proxyImage && proxy.state === 'running' && !!network && !open && !ipv6On;
  const reload = healthy && !sameAllow;
  const stale = !healthy;
  if (stale) {
    if (proxy && !open) steps.push('remove-proxy');
    steps.push('create-proxy');
  }
  if (reload) steps.push('reload-egress-policy');
  const inPlace = reload ? ' (policy reloaded in place)' : '';
  if (open) {
    reasons.push({
      code: 'egress_proxy',
      attribute: 'egress',
      message: "egress network lets the sandbox reach the host at the network's gateway address: network and proxy made again with the gateway isolated",
    });
  }
  if (proxy && before && !sameAllow) {
    const { added, removed } = allowListDiff(before, e.allow);
    if (added.length) {
      reasons.push({ code: 'egress_widened', attribute: 'egress.allow', message: `egress WIDENED: +${added.join(', +')}${inPlace}` });
      security.push(`egress widened: ${added.join(', ')}`);
    }
    if (removed.length) reasons.push({ code: 'egress_narrowed', attribute: 'egress.allow', message: `egress narrowed: -${removed.join(', -')}${inPlace}` });
    if (!added.length && !removed.length) reasons.push({ code: 'egress_narrowed', attribute: 'egress.allow', message: `egress allow list reordered${inPlace}` });
  } else if (reload) {
    reasons.push({
      code: 'egress_proxy',
      attribute: 'egress',
      message: unknown ? `the allow list egress proxy ${proxy.name} enforces is unknown: ${unknown}${inPlace}` : `egress proxy ${proxy.name} has no readable allow-list label${inPlace}`,
    });
  } else if (proxy && stale && !open) {
    reasons.push({
      code: 'egress_proxy',
      attribute: 'egress',
      message:
        proxy.image !== e.proxyImage
          ? 'egress proxy image changed'
          : ipv6On
            ? 'egress proxy made without IPv6 off (no io.sandboxshift.ipv6=off label): made again with IPv6 off'
            : `egress proxy ${proxy.state === 'running' ? 'network missing' : `not running (${proxy.state})`}`,
    });
  } else if (!proxy && observed.containers.has(d.name)) {
    reasons.push({ code: 'egress_proxy', attribute: 'egress', message: 'egress proxy missing (removed outside sandboxshift)' });
  }
  return { steps, reasons, security, networkLost: (!network || open) && observed.containers.has(d.name) };
}

export function outsideNetworkChange(project: string): NetworkChange {
  return bareChange({
    address: OUTSIDE_NETWORK_ADDRESS,
    type: 'network',
    // The resource's name is the engine object's: ss.PROJECT.egress-out.
    name: outsideNetworkName(project),
    kind: 'create',
    reasons: [{ code: 'new', message: "the project's outside network for egress proxies" }],
    steps: ['create-outside-network'],
  });
}
