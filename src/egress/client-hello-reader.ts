// Collects the first bytes a client sends into a tunnel until they hold a whole ClientHello, so the
// server name can be checked before a single byte goes upstream.

import type { Duplex } from 'node:stream';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './sni.js';

export type HelloRead = { ok: true; serverName: string | null; bytes: Buffer } | { ok: false; reason: string };

/** Enough for the largest ClientHello even when split into many small records, each with a header. */
const MAX_BUFFERED = 2 * MAX_CLIENT_HELLO_BYTES;

/**
 * Reads from `socket` (after the bytes already in `head`) until a ClientHello parses, fails to
 * parse, grows too large, or `timeoutMs` passes. The socket is left paused; `bytes` holds everything
 * read, which the caller must send upstream first.
 */
export function readClientHello(socket: Duplex, head: Buffer, timeoutMs: number): Promise<HelloRead> {
  return new Promise((resolve) => {
    let buffered = head;
    const finish = (result: HelloRead) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      socket.pause();
      resolve(result);
    };
    const evaluate = (): boolean => {
      const parsed = parseClientHello(buffered);
      if (parsed.status === 'complete') finish({ ok: true, serverName: parsed.serverName, bytes: buffered });
      else if (parsed.status === 'invalid') finish({ ok: false, reason: `not a valid TLS ClientHello: ${parsed.reason}` });
      else if (buffered.length > MAX_BUFFERED) finish({ ok: false, reason: 'ClientHello too large' });
      else return false;
      return true;
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      evaluate();
    };
    const onEnd = () => finish({ ok: false, reason: 'client closed before sending a whole ClientHello' });
    const onError = (error: Error) => finish({ ok: false, reason: `client error before the ClientHello: ${error.message}` });
    const timer = setTimeout(() => finish({ ok: false, reason: `no whole ClientHello within ${timeoutMs} ms` }), timeoutMs);

    if (buffered.length > 0 && evaluate()) return;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    socket.resume();
  });
}
