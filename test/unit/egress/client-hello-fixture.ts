// Real ClientHellos, captured from Node's TLS client talking to a loopback server that records
// its first flight and hangs up; and a builder for hand-made ones the real client would never send.

import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:tls';

/** The first TLS record(s) Node sends for `servername` (no SNI when undefined: the host is an IP). */
export async function captureClientHello(servername?: string): Promise<Buffer> {
  const server = createServer();
  const captured = new Promise<Buffer>((resolve, reject) => {
    server.on('connection', (socket) => {
      let bytes = Buffer.alloc(0);
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
          resolve(bytes.subarray(0, 5 + bytes.readUInt16BE(3)));
          socket.destroy();
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
  client.on('error', () => client.destroy()); // the server hangs up mid-handshake on purpose
  try {
    return await captured;
  } finally {
    client.destroy();
    server.close();
  }
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number) => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);

export interface HelloParts {
  /** Host names in one server_name extension; omit for no server_name extension. */
  serverNames?: string[];
  /** Extra extensions as [type, data]. */
  extensions?: Array<[number, Buffer]>;
  /** Build without an extensions block at all. */
  noExtensions?: boolean;
}

/** The ClientHello handshake message (type, length, body), not yet in a record. */
export function clientHelloMessage(parts: HelloParts = {}): Buffer {
  const extensions: Buffer[] = [];
  if (parts.serverNames) {
    const list = Buffer.concat(parts.serverNames.map((name) => Buffer.concat([Buffer.from([0]), u16(name.length), Buffer.from(name, 'latin1')])));
    const data = Buffer.concat([u16(list.length), list]);
    extensions.push(Buffer.concat([u16(0), u16(data.length), data]));
  }
  for (const [type, data] of parts.extensions ?? []) extensions.push(Buffer.concat([u16(type), u16(data.length), data]));
  const extensionBlock = Buffer.concat(extensions);
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([0]), // no session id
    u16(2),
    Buffer.from([0x13, 0x01]),
    Buffer.from([1, 0]), // null compression
    parts.noExtensions ? Buffer.alloc(0) : Buffer.concat([u16(extensionBlock.length), extensionBlock]),
  ]);
  return Buffer.concat([Buffer.from([1]), u24(body.length), body]);
}

/** Wraps handshake bytes in TLS records of at most `size` bytes each. */
export function inRecords(message: Buffer, size = 16384): Buffer {
  const records: Buffer[] = [];
  for (let at = 0; at < message.length; at += size) {
    const fragment = message.subarray(at, at + size);
    records.push(Buffer.concat([Buffer.from([22, 3, 1]), u16(fragment.length), fragment]));
  }
  return Buffer.concat(records);
}

/** The handshake message inside a single captured record. */
export function handshakeOf(record: Buffer): Buffer {
  return record.subarray(5, 5 + record.readUInt16BE(3));
}
