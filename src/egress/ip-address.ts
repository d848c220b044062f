// IP addresses and ranges as numbers, so containment is arithmetic rather than string matching.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are folded to IPv4 on the way in: a socket sends
// them to the IPv4 host, so a check that saw them as IPv6 could be walked around.

import { isIP } from 'node:net';

export interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

export interface IpRange {
  readonly family: 4 | 6;
  /** The network address, host bits cleared. */
  readonly base: bigint;
  readonly prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;
const MAPPED_RANGE: IpRange = { family: 6, base: 0xffffn << 32n, prefix: 96 };

/** Parses a plain address (no brackets, no zone id); null when it is not one. */
export function parseIp(text: string): IpAddress | null {
  const family = isIP(text);
  if (family === 4) return { family: 4, value: parseIpv4(text) };
  // A zone id (`fe80::1%eth0`) names an interface on this host, never a remote destination.
  if (family === 6 && !text.includes('%')) return unmapIpv4({ family: 6, value: parseIpv6(text) });
  return null;
}

/** Parses `address/prefix`, or a bare address as a range of one. Host bits are cleared. */
export function parseIpRange(text: string): IpRange | null {
  const [addressText = '', prefixText, extra] = text.split('/');
  if (extra !== undefined) return null;
  const family = isIP(addressText);
  if (family === 0 || addressText.includes('%')) return null;
  const bits = BITS[family as 4 | 6];
  if (prefixText !== undefined && !/^[0-9]{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return null;
  const value = family === 4 ? parseIpv4(addressText) : parseIpv6(addressText);
  const range: IpRange = { family: family as 4 | 6, base: mask(value, bits, prefix), prefix };
  // `::ffff:10.0.0.0/104` means 10.0.0.0/8: addresses are folded to IPv4, so ranges must be too.
  if (range.family === 6 && prefix >= 96 && rangeContains(MAPPED_RANGE, { family: 6, value: range.base })) {
    return { family: 4, base: range.base & 0xffffffffn, prefix: prefix - 96 };
  }
  return range;
}

export function rangeContains(range: IpRange, ip: IpAddress): boolean {
  if (range.family !== ip.family) return false;
  return mask(ip.value, BITS[ip.family], range.prefix) === range.base;
}

/** True when every address of `inner` is also in `outer`. */
export function rangeWithin(inner: IpRange, outer: IpRange): boolean {
  return inner.prefix >= outer.prefix && rangeContains(outer, { family: inner.family, value: inner.base });
}

/** Canonical text: dotted IPv4, RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn));
  const zeros = longestZeroRun(groups);
  if (zeros.length < 2) return groups.map((g) => g.toString(16)).join(':');
  const hex = (part: number[]) => part.map((g) => g.toString(16)).join(':');
  return `${hex(groups.slice(0, zeros.start))}::${hex(groups.slice(zeros.start + zeros.length))}`;
}

export function formatIpRange(range: IpRange): string {
  return `${formatIp({ family: range.family, value: range.base })}/${range.prefix}`;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address; any other address unchanged. */
export function unmapIpv4(ip: IpAddress): IpAddress {
  if (ip.family === 6 && rangeContains(MAPPED_RANGE, ip)) return { family: 4, value: ip.value & 0xffffffffn };
  return ip;
}

function mask(value: bigint, bits: number, prefix: number): bigint {
  const hostBits = BigInt(bits - prefix);
  return (value >> hostBits) << hostBits;
}

// Both parsers trust their input: callers validate with isIP first.
function parseIpv4(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseIpv6(text: string): bigint {
  let body = text;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (dotted) {
    const v4 = parseIpv4(dotted[1] ?? '');
    body = `${body.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [left = '', right] = body.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const head = groups(left);
  const tail = right === undefined ? [] : groups(right);
  const all = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  return all.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function longestZeroRun(groups: number[]): { start: number; length: number } {
  let best = { start: 0, length: 0 };
  let start = -1;
  groups.forEach((group, i) => {
    if (group !== 0) {
      start = -1;
      return;
    }
    if (start < 0) start = i;
    if (i - start + 1 > best.length) best = { start, length: i - start + 1 };
  });
  return best;
}
