// Addresses a sandbox must not reach even through an allowed name: the host itself, the Docker and
// company networks, and cloud metadata services that hand out credentials. A DNS answer is
// attacker-controlled (anyone can point `x.evil.com` at 169.254.169.254), so every resolved
// address passes through here, not just IP literals.
//
// An address entry in the policy lifts the refusal only when the entry lies entirely inside the
// forbidden range it hits: `10.1.0.0/16` opens 10.1.x.x, `169.254.169.254/32` opens the metadata
// service, but `0.0.0.0/0` or `10.0.0.0/7` open nothing private. Opening a forbidden place takes
// naming it.

import { addressRules, type EgressPolicy } from './policy.js';
import { formatIp, parseIp, parseIpRange, rangeContains, rangeWithin, type IpAddress, type IpRange } from './ip-address.js';

export type AddressCategory = 'unspecified' | 'loopback' | 'private' | 'cgnat' | 'link-local' | 'metadata' | 'multicast' | 'broadcast' | 'reserved' | 'unique-local' | 'site-local';

export interface ForbiddenRange {
  readonly text: string;
  readonly range: IpRange;
  readonly category: AddressCategory;
  /** False for IPv6 forms that embed a forbidden IPv4 address: no policy entry can open those. */
  readonly exemptable: boolean;
}

export interface AddressVerdict {
  allowed: boolean;
  /** Canonical form of the address checked. */
  address: string;
  category?: AddressCategory;
  /** The address entry that opened a forbidden range. */
  rule?: string;
  reason: string;
}

const TABLE: ReadonlyArray<[string, AddressCategory]> = [
  ['0.0.0.0/8', 'unspecified'], // Linux connects 0.0.0.0 to the local host
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'cgnat'],
  ['100.100.100.200/32', 'metadata'], // Alibaba Cloud
  ['127.0.0.0/8', 'loopback'],
  ['168.63.129.16/32', 'metadata'], // Azure wire server: a public address that only the host answers
  ['169.254.0.0/16', 'link-local'],
  ['169.254.169.254/32', 'metadata'], // AWS, GCP, Azure, OpenStack
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'reserved'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['255.255.255.255/32', 'broadcast'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'reserved'], // IPv4-compatible, deprecated
  ['64:ff9b:1::/48', 'private'], // local-use NAT64
  ['100::/64', 'reserved'], // discard-only
  ['fc00::/7', 'unique-local'],
  ['fd00:ec2::254/128', 'metadata'], // AWS over IPv6
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
];

export const FORBIDDEN_RANGES: readonly ForbiddenRange[] = TABLE.map(([text, category]) => ({
  text,
  range: range(text),
  category,
  exemptable: true,
}));

/** IPv6 ranges that carry an IPv4 address in their low bits and are routed to it by a gateway. */
const EMBEDDING: ReadonlyArray<{ text: string; range: IpRange; extract: (value: bigint) => bigint }> = [
  { text: '64:ff9b::/96', range: range('64:ff9b::/96'), extract: (v) => v & 0xffffffffn }, // NAT64
  { text: '2002::/16', range: range('2002::/16'), extract: (v) => (v >> 80n) & 0xffffffffn }, // 6to4
];

/** Every forbidden range the address is in, narrowest last; empty for an ordinary public address. */
export function forbiddenRangesOf(address: string | IpAddress): ForbiddenRange[] {
  const ip = typeof address === 'string' ? parseIp(address) : address;
  if (!ip) return [];
  const hits = FORBIDDEN_RANGES.filter((f) => rangeContains(f.range, ip));
  for (const embedding of EMBEDDING) {
    if (!rangeContains(embedding.range, ip)) continue;
    const inner = forbiddenRangesOf({ family: 4, value: embedding.extract(ip.value) });
    for (const f of inner) hits.push({ ...f, text: `${embedding.text} embedding ${f.text}`, exemptable: false });
  }
  return hits.sort((a, b) => a.range.prefix - b.range.prefix);
}

/** May the proxy connect to this address under this policy? Invalid text is refused. */
export function guardAddress(policy: EgressPolicy, address: string): AddressVerdict {
  const ip = parseIp(address);
  if (!ip) return { allowed: false, address, reason: `'${address}' is not an IP address` };
  const canonical = formatIp(ip);
  const hits = forbiddenRangesOf(ip);
  const narrowest = hits[hits.length - 1];
  if (!narrowest) return { allowed: true, address: canonical, reason: 'public address' };

  const refused = (why: string): AddressVerdict => ({ allowed: false, address: canonical, category: narrowest.category, reason: why });
  if (hits.some((hit) => !hit.exemptable)) return refused(`${canonical} is ${narrowest.category} (${narrowest.text}); no entry can allow it`);
  const opener = addressRules(policy).find((rule) => rangeContains(rule.range, ip) && hits.every((hit) => rangeWithin(rule.range, hit.range)));
  if (!opener) return refused(`${canonical} is ${narrowest.category} (${narrowest.text}) and no address entry inside that range allows it`);
  return { allowed: true, address: canonical, category: narrowest.category, rule: opener.entry, reason: `${narrowest.category} address allowed by '${opener.entry}'` };
}

function range(text: string): IpRange {
  const parsed = parseIpRange(text);
  if (!parsed) throw new Error(`bad built-in range ${text}`);
  return parsed;
}
