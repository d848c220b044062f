// Reads the server name out of a TLS ClientHello, so the proxy can hold a tunnel to the name it
// was asked for: without this, `CONNECT allowed.com:443` followed by a ClientHello for another
// site on the same CDN address reaches that other site (domain fronting).
//
// The parser is strict on purpose. Every length must agree with its container; anything it does not
// understand is `invalid`, never "no server name", because a reading that differs from the
// server's is exactly the gap an attacker would use.

export type ClientHelloParse = { status: 'incomplete' } | { status: 'complete'; serverName: string | null } | { status: 'invalid'; reason: string };

/** The largest ClientHello accepted; real ones are well under 2 KiB, and one record holds 16 KiB. */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024;

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const MAX_RECORD_LENGTH = 16 * 1024;
const EXTENSION_SERVER_NAME = 0;
const NAME_TYPE_HOST_NAME = 0;
const HOST_NAME_BYTES = /^[A-Za-z0-9._-]+$/;

class Malformed extends Error {}

/**
 * Parses the start of a client's byte stream. The ClientHello may be split over several TLS
 * records and arrive over several TCP chunks; call again with more bytes while `incomplete`.
 */
export function parseClientHello(data: Uint8Array): ClientHelloParse {
  try {
    const message = reassembleHandshake(data);
    if (message === null) return { status: 'incomplete' };
    return { status: 'complete', serverName: readServerName(message) };
  } catch (error) {
    if (error instanceof Malformed) return { status: 'invalid', reason: error.message };
    throw error;
  }
}

/** The ClientHello handshake message body (without its 4-byte header), or null if more bytes are needed. */
function reassembleHandshake(data: Uint8Array): Uint8Array | null {
  const fragments: Uint8Array[] = [];
  let collected = 0;
  let needed: number | null = null;
  let offset = 0;
  while (needed === null || collected < needed) {
    if (data.length - offset < 5) return null;
    if (data[offset] !== RECORD_HANDSHAKE) throw new Malformed(offset === 0 ? 'not a TLS handshake record' : 'ClientHello interrupted by a non-handshake record');
    if (data[offset + 1] !== 3) throw new Malformed('unknown TLS record version');
    const length = u16(data, offset + 3);
    if (length === 0 || length > MAX_RECORD_LENGTH) throw new Malformed(`bad TLS record length ${length}`);
    if (data.length - offset - 5 < length) return null;
    fragments.push(data.subarray(offset + 5, offset + 5 + length));
    collected += length;
    offset += 5 + length;

    if (needed === null && collected >= 4) {
      const head = concat(fragments).subarray(0, 4);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) throw new Malformed('first handshake message is not a ClientHello');
      needed = 4 + ((u8(head, 1) << 16) | u16(head, 2));
      if (needed - 4 > MAX_CLIENT_HELLO_BYTES) throw new Malformed('ClientHello too large');
    }
  }
  // The client's first flight is the ClientHello alone; more handshake bytes behind it are not TLS.
  if (collected !== needed) throw new Malformed('unexpected handshake data after the ClientHello');
  return concat(fragments).subarray(4);
}

function readServerName(body: Uint8Array): string | null {
  const r = new Reader(body);
  if (r.u8() !== 3) throw new Malformed('unknown ClientHello version');
  r.advance(1 + 32); // minor version, random
  const sessionId = r.u8();
  if (sessionId > 32) throw new Malformed('session id too long');
  r.advance(sessionId);
  const suites = r.u16();
  if (suites < 2 || suites % 2 !== 0) throw new Malformed('bad cipher suite list');
  r.advance(suites);
  const compression = r.u8();
  if (compression < 1) throw new Malformed('empty compression list');
  r.advance(compression);
  if (r.remaining() === 0) return null; // no extensions at all (old clients): no server name

  const extensions = r.sub(r.u16());
  if (r.remaining() !== 0) throw new Malformed('bytes after the extensions');
  const seen = new Set<number>();
  let serverName: string | null = null;
  while (extensions.remaining() > 0) {
    const type = extensions.u16();
    const data = extensions.sub(extensions.u16());
    if (seen.has(type)) throw new Malformed(`extension ${type} appears twice`);
    seen.add(type);
    if (type === EXTENSION_SERVER_NAME) serverName = readServerNameList(data);
  }
  return serverName;
}

function readServerNameList(ext: Reader): string {
  const list = ext.sub(ext.u16());
  if (ext.remaining() !== 0) throw new Malformed('bytes after the server name list');
  let hostName: string | null = null;
  while (list.remaining() > 0) {
    const type = list.u8();
    const name = list.take(list.u16());
    // RFC 6066 defines only host_name and allows one of each type; anything else is refused
    // rather than skipped, since a server might read it differently.
    if (type !== NAME_TYPE_HOST_NAME) throw new Malformed(`unknown server name type ${type}`);
    if (hostName !== null) throw new Malformed('more than one host name');
    const text = String.fromCharCode(...name);
    if (!HOST_NAME_BYTES.test(text)) throw new Malformed('server name is not an ASCII host name');
    hostName = text;
  }
  if (hostName === null) throw new Malformed('empty server name list');
  return hostName;
}

class Reader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}
  remaining(): number {
    return this.bytes.length - this.offset;
  }
  u8(): number {
    return u8(this.take(1), 0);
  }
  u16(): number {
    return u16(this.take(2), 0);
  }
  advance(n: number): void {
    this.take(n);
  }
  take(n: number): Uint8Array {
    if (n > this.remaining()) throw new Malformed('length runs past the end of its field');
    const slice = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return slice;
  }
  sub(n: number): Reader {
    return new Reader(this.take(n));
  }
}

function u8(bytes: Uint8Array, at: number): number {
  const value = bytes[at];
  if (value === undefined) throw new Malformed('truncated');
  return value;
}

function u16(bytes: Uint8Array, at: number): number {
  return (u8(bytes, at) << 8) | u8(bytes, at + 1);
}

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 && parts[0] ? parts[0] : Buffer.concat(parts);
}
