// One spelling per destination. A policy, a CONNECT line, a URL and a TLS server name are compared
// only after they pass through here, so `GitHub.com.`, `github.com` and `ｇｉｔｈｕｂ.com` are the same
// host and nothing else is.

import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { formatIp, parseIp, type IpAddress } from './ip-address.js';

export type Host = { readonly kind: 'name'; readonly name: string } | { readonly kind: 'ip'; readonly address: string; readonly ip: IpAddress };

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
/** ASCII is limited to what a host name may hold before IDNA sees it: domainToASCII reads
 *  `/`, `%`, `@` and `:` as URL syntax (`a.com/x` becomes `a.com`), which would let a
 *  string mean one host here and another elsewhere. Non-ASCII is left to IDNA. */
const NAME_CHARACTERS = /^[a-z0-9._\-\u0080-\u{10ffff}]+$/u;

/** Normalises a host name or IP literal (IPv6 with or without brackets); null when invalid. */
export function normalizeHost(raw: string): Host | null {
  const text = raw.toLowerCase();
  const bracketed = /^\[(.*)\]$/.exec(text);
  if (bracketed) return isIP(bracketed[1] ?? '') === 6 ? ipHost(bracketed[1] ?? '') : null;
  if (isIP(text) !== 0) return ipHost(text);

  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (!NAME_CHARACTERS.test(name)) return null;
  const ascii = domainToASCII(name);
  // IDNA turns `127.1`, `0x7f.1` and full-width digits into dotted IPv4. Such a spelling is refused
  // rather than guessed at: an address must be written as one.
  if (ascii === '' || isIP(ascii) !== 0 || ascii.length > 253) return null;
  if (!ascii.split('.').every((label) => LABEL.test(label))) return null;
  return { kind: 'name', name: ascii };
}

/** The host as text: a name, dotted IPv4, or bracketed IPv6. */
export function hostText(host: Host): string {
  if (host.kind === 'name') return host.name;
  return host.ip.family === 6 ? `[${host.address}]` : host.address;
}

export function sameHost(a: Host, b: Host): boolean {
  return hostText(a) === hostText(b);
}

/**
 * Splits `host:port` or `[v6]:port`. Without a port, `defaultPort` is used, or the authority is
 * refused when there is none. An unbracketed IPv6 address is refused: its last group looks like a port.
 */
export function parseAuthority(text: string, defaultPort?: number): { host: string; port: number } | null {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return null;
    host = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return null;
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = text.lastIndexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (host.includes(':')) return null;
  }
  if (host === '' || host === '[]') return null;
  if (portText === undefined) return defaultPort === undefined ? null : { host, port: defaultPort };
  const port = parsePort(portText);
  return port === null ? null : { host, port };
}

export function parsePort(text: string): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

function ipHost(text: string): Host | null {
  const ip = parseIp(text);
  return ip ? { kind: 'ip', address: formatIp(ip), ip } : null;
}
