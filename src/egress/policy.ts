// The allow list as data, and the question the proxy asks of it: may this host and port be reached?
//
// Entry forms (the same ones config/egress-entry.ts accepts):
//   pypi.org            that name exactly
//   *.github.com        any name ending in `.github.com` (api.github.com, a.b.github.com), compared
//                       label by label so `evilgithub.com` never matches. The apex `github.com` is
//                       NOT matched: list it separately. Leaving the apex out is what DNS wildcards
//                       do, and it keeps "every subdomain" from silently meaning "the site as well".
//   host:8443           a name (or IPv4 address) on that port only
//   [2001:db8::1]:443   an IPv6 address on that port only
//   10.1.0.0/16, 10.1.2.3, fd00::/8
//                       addresses: lets a client connect to IP literals in the range, and lets names
//                       resolve into the range even when it is private (see address-guard.ts)
// Without a port an entry allows 443 and 80 only. Entries that are none of these are reported as
// problems and allow nothing.

import { hostText, normalizeHost, parsePort, type Host } from './host-name.js';
import { parseIpRange, rangeContains, type IpRange } from './ip-address.js';

export const DEFAULT_PORTS: readonly number[] = [443, 80];

export type EgressRule =
  | { readonly kind: 'name'; readonly entry: string; readonly name: string; readonly ports: readonly number[] }
  | { readonly kind: 'wildcard'; readonly entry: string; readonly suffix: string; readonly ports: readonly number[] }
  | { readonly kind: 'address'; readonly entry: string; readonly range: IpRange; readonly ports: readonly number[] };

export interface EgressPolicy {
  readonly rules: readonly EgressRule[];
}

export interface PolicyProblem {
  entry: string;
  message: string;
}

export interface HostMatch {
  allowed: boolean;
  /** The entry, as written, that allowed the host, or that matched it on another port. */
  rule?: string;
  reason: string;
}

export const DENY_ALL: EgressPolicy = Object.freeze({ rules: Object.freeze([]) });

export function parsePolicy(entries: readonly string[]): { policy: EgressPolicy; problems: PolicyProblem[] } {
  const rules: EgressRule[] = [];
  const problems: PolicyProblem[] = [];
  for (const entry of entries) {
    const parsed = parseEntry(entry);
    if (typeof parsed === 'string') problems.push({ entry, message: parsed });
    else rules.push(Object.freeze(parsed));
  }
  return { policy: Object.freeze({ rules: Object.freeze(rules) }), problems };
}

export function matchHost(policy: EgressPolicy, rawHost: string, port: number): HostMatch {
  const host = normalizeHost(rawHost);
  if (!host) return { allowed: false, reason: `'${rawHost}' is not a valid host name or address` };
  let otherPort: EgressRule | undefined;
  for (const rule of policy.rules) {
    if (!ruleCoversHost(rule, host)) continue;
    if (rule.ports.includes(port)) return { allowed: true, rule: rule.entry, reason: `allowed by '${rule.entry}'` };
    otherPort ??= rule;
  }
  const text = hostText(host);
  if (otherPort) {
    return { allowed: false, rule: otherPort.entry, reason: `port ${port} is not allowed for ${text} ('${otherPort.entry}' allows ${otherPort.ports.join(', ')})` };
  }
  return { allowed: false, reason: host.kind === 'ip' ? `no address rule covers ${text}` : `no rule matches ${text}` };
}

/** The address entries: the only way to reach an IP literal, or a name resolving to a private address. */
export function addressRules(policy: EgressPolicy): Extract<EgressRule, { kind: 'address' }>[] {
  return policy.rules.filter((rule): rule is Extract<EgressRule, { kind: 'address' }> => rule.kind === 'address');
}

function ruleCoversHost(rule: EgressRule, host: Host): boolean {
  switch (rule.kind) {
    case 'name':
      return host.kind === 'name' && host.name === rule.name;
    case 'wildcard':
      return host.kind === 'name' && host.name.endsWith(`.${rule.suffix}`);
    case 'address':
      return host.kind === 'ip' && rangeContains(rule.range, host.ip);
  }
}

function parseEntry(entry: string): EgressRule | string {
  if (entry.includes('/')) {
    const range = parseIpRange(entry);
    return range ? { kind: 'address', entry, range, ports: DEFAULT_PORTS } : 'not a valid CIDR range';
  }
  const bare = normalizeHost(entry);
  if (bare?.kind === 'ip') return { kind: 'address', entry, range: exactRange(bare), ports: DEFAULT_PORTS };

  const split = splitPort(entry);
  if (typeof split === 'string') return split;
  const ports = split.port === undefined ? DEFAULT_PORTS : [split.port];

  if (split.host.startsWith('*.')) {
    const suffix = normalizeHost(split.host.slice(2));
    if (suffix?.kind !== 'name') return 'a wildcard must be `*.` followed by a domain name';
    if (!suffix.name.includes('.')) return 'a wildcard must cover a domain below a top-level domain (`*.example.com`, not `*.com`)';
    return { kind: 'wildcard', entry, suffix: suffix.name, ports };
  }
  if (split.host.includes('*')) return 'a wildcard may only be a leading `*.`';
  const host = normalizeHost(split.host);
  if (!host) return 'not a valid host name or address';
  if (host.kind === 'ip') return { kind: 'address', entry, range: exactRange(host), ports };
  return { kind: 'name', entry, name: host.name, ports };
}

function splitPort(entry: string): { host: string; port?: number } | string {
  if (entry.startsWith('[')) {
    const match = /^\[([^\]]*)\](?::(.*))?$/.exec(entry);
    if (!match) return 'an IPv6 address is written `[address]:port`';
    const port = match[2] === undefined ? undefined : parsePort(match[2]);
    if (port === null) return 'the port must be a number from 1 to 65535';
    return port === undefined ? { host: `[${match[1] ?? ''}]` } : { host: `[${match[1] ?? ''}]`, port };
  }
  const colon = entry.lastIndexOf(':');
  if (colon < 0) return { host: entry };
  const port = parsePort(entry.slice(colon + 1));
  if (port === null) return 'the port must be a number from 1 to 65535';
  return { host: entry.slice(0, colon), port };
}

function exactRange(host: Extract<Host, { kind: 'ip' }>): IpRange {
  return { family: host.ip.family, base: host.ip.value, prefix: host.ip.family === 4 ? 32 : 128 };
}
