// Whether an egress allow entry could reach a host the policy denies. Entries are domains
// (`pypi.org`), wildcards (`*.github.com`: any name below github.com, not github.com itself),
// addresses and CIDRs, each optionally with a port; the port does not matter here.
import { isIP } from 'node:net';

type Host = { kind: 'name'; name: string; wildcard: boolean } | { kind: 'v4'; base: number; prefix: number } | { kind: 'other'; text: string };

export function hostsOverlap(allowEntry: string, denyEntry: string): boolean {
  const a = hostOf(allowEntry);
  const d = hostOf(denyEntry);
  if (a.kind === 'name' && d.kind === 'name') return namesOverlap(a, d);
  if (a.kind === 'v4' && d.kind === 'v4') {
    const prefix = Math.min(a.prefix, d.prefix);
    return prefix === 0 || a.base >>> (32 - prefix) === d.base >>> (32 - prefix);
  }
  if (a.kind === 'other' && d.kind === 'other') return a.text === d.text;
  return false;
}

function namesOverlap(a: { name: string; wildcard: boolean }, d: { name: string; wildcard: boolean }): boolean {
  const below = (name: string, parent: string) => name.endsWith(`.${parent}`);
  if (!a.wildcard && !d.wildcard) return a.name === d.name;
  if (!a.wildcard) return below(a.name, d.name);
  if (!d.wildcard) return below(d.name, a.name);
  return a.name === d.name || below(a.name, d.name) || below(d.name, a.name);
}

function hostOf(entry: string): Host {
  let text = entry.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::[0-9]+)?$/.exec(text);
  if (bracketed) return { kind: 'other', text: bracketed[1] ?? '' };
  const [address = '', prefix] = text.split('/');
  if (isIP(address) === 4) return { kind: 'v4', base: v4(address), prefix: prefix === undefined ? 32 : Number(prefix) };
  if (isIP(address) === 6) return { kind: 'other', text };
  const colon = text.lastIndexOf(':');
  if (colon > 0 && /^[0-9]+$/.test(text.slice(colon + 1))) text = text.slice(0, colon);
  if (isIP(text) === 4) return { kind: 'v4', base: v4(text), prefix: 32 };
  text = text.replace(/\.$/, '');
  return text.startsWith('*.') ? { kind: 'name', name: text.slice(2), wildcard: true } : { kind: 'name', name: text, wildcard: false };
}

function v4(address: string): number {
  return address.split('.').reduce((n, part) => ((n << 8) | Number(part)) >>> 0, 0);
}
