// What an `egress.allow` entry may be. The egress proxy matches these; anything else is almost
// always a pasted URL or a typo that would silently allow nothing.

import { isIP } from 'node:net';

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
/** `pypi.org`, `*.github.com`: at least two labels, the last one starting with a letter. */
const DOMAIN = new RegExp(`^(?:\\*\\.)?(?:${LABEL}\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`, 'i');
const SINGLE_LABEL = new RegExp(`^${LABEL}$`, 'i');

export function isEgressEntry(entry: string): boolean {
  return isDomain(entry) || isCidrOrAddress(entry) || isHostAndPort(entry);
}

function isDomain(entry: string): boolean {
  return entry.length <= 253 && DOMAIN.test(entry);
}

function isCidrOrAddress(entry: string): boolean {
  const [address = '', prefix, extra] = entry.split('/');
  if (extra !== undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^[0-9]{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

function isHostAndPort(entry: string): boolean {
  const bracketed = /^\[([^\]]+)\]:([0-9]+)$/.exec(entry);
  if (bracketed) return isIP(bracketed[1] ?? '') === 6 && isPort(bracketed[2] ?? '');
  const colon = entry.lastIndexOf(':');
  if (colon <= 0) return false;
  const host = entry.slice(0, colon);
  const port = entry.slice(colon + 1);
  return isPort(port) && (isDomain(host) || SINGLE_LABEL.test(host) || isIP(host) === 4);
}

function isPort(text: string): boolean {
  return /^[0-9]{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535;
}

/** Advice for an entry that is none of the accepted forms. */
export function egressEntryHint(entry: string): string {
  const url = /^[a-z]+:\/\/([^/:]+)/i.exec(entry);
  if (url) return `write the host only, without scheme or path: '${url[1] ?? ''}'`;
  if (entry.includes('/') && !entry.includes('://')) {
    const host = entry.split('/')[0] ?? '';
    if (isDomain(host)) return `write the host only, without a path: '${host}'`;
  }
  return 'write a domain (pypi.org, *.github.com), a host:port (db.internal:5432) or a CIDR (10.0.0.0/8)';
}
