// A streamed HTTP/1.1 request straight on the engine's socket: archive downloads, and the light
// reader's and exec's JSON calls. node:http reads the socket 64 KiB at a time through its parser
// and a 16 KiB response buffer, which took about 2.5x docker cp's time for a 200 MB file; reading
// into one 1 MiB buffer (net's `onread`) and decoding the chunked body here keeps up with it. The
// body goes to a consumer as views of that buffer, never copied: the next read waits until the
// consumer returns (that is the backpressure), and a copy of every chunk into fresh memory took a
// fifth of a copy's time. For the small calls it spares loading node:http and its per-request
// machinery (about 10 ms of a whole `exec`, and of a whole `cp`: its stat is a HEAD and its
// upload a chunked PUT, both here).
import { connect, type Socket } from 'node:net';
import { EngineHttpError, type Target } from './target.js';

/** Sends a buffer; resolves once the socket took it (the caller may reuse the buffer then). */
export type BodySend = (chunk: Buffer) => Promise<void>;

/** What a request sends and how its answer is read. */
interface RawCall {
  method: string;
  path: string;
  /** A JSON body, sent whole with its length. */
  payload?: string;
  /** A streamed body, sent chunked as `produce` hands it over. */
  upload?: { contentType: string; produce: (send: BodySend) => Promise<void> };
  readBuffer: number;
  onBody: (data: Buffer) => void | Promise<void>;
  /** Told the answer's head (status >= 400 never reaches it: that rejects). */
  onHead?: (header: (name: string) => string | undefined) => void;
}

const READ_BUFFER = 1 << 20;
/** For JSON answers: most fit in one read. */
const SMALL_READ_BUFFER = 64 << 10;

/**
 * GETs `path` and hands the body to `onBody` piece by piece (views valid only during the call);
 * resolves once all of it was taken. When `onBody` returns a promise, the socket is not read
 * again until it settles. Rejects with the engine's error (status >= 400), a broken
 * connection, or what `onBody` threw (the connection is closed then).
 */
export function rawGet(target: Target, path: string, onBody: (data: Buffer) => void | Promise<void>): Promise<void> {
  return rawRequest(target, { method: 'GET', path, readBuffer: READ_BUFFER, onBody });
}

/** A HEAD: the answer's headers (lower-case names), or the engine's error (status >= 400). */
export async function rawHead(target: Target, path: string): Promise<(name: string) => string | undefined> {
  let found: (name: string) => string | undefined = () => undefined;
  await rawRequest(target, {
    method: 'HEAD',
    path,
    readBuffer: SMALL_READ_BUFFER,
    onBody: () => undefined,
    onHead: (header) => {
      found = header;
    },
  });
  return found;
}

/**
 * A PUT whose body `produce` streams (chunked); resolves once the engine answered (it does after
 * taking the whole body). An answer >= 400 rejects with the engine's message, also when it comes
 * before the body is done (the rest is not sent then); a failing `produce` closes the connection.
 */
export function rawPut(target: Target, path: string, contentType: string, produce: (send: BodySend) => Promise<void>): Promise<void> {
  return rawRequest(target, { method: 'PUT', path, upload: { contentType, produce }, readBuffer: SMALL_READ_BUFFER, onBody: () => undefined });
}

/** One JSON call: the parsed answer (null for an empty body), or the engine's error. */
export async function rawJson<T>(target: Target, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const parts: Buffer[] = [];
  const payload = body === undefined ? undefined : JSON.stringify(body);
  await rawRequest(target, {
    method,
    path,
    payload,
    readBuffer: SMALL_READ_BUFFER,
    onBody: (view) => {
      parts.push(Buffer.from(view));
    },
  });
  const text = Buffer.concat(parts).toString('utf8');
  try {
    return (text ? JSON.parse(text) : null) as T;
  } catch (err) {
    throw new Error(`engine sent a non-JSON answer to ${method} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The connections of requests in flight (abortRawRequests). */
const open = new Set<Socket>();

/**
 * Cuts every request in flight (each fails): a stopping cp ends its copy this way, so the
 * engine stops it before the sandbox runs again (copy-freeze.ts). Later requests are not affected.
 */
export function abortRawRequests(): void {
  for (const socket of open) socket.destroy(new Error('stopped by a signal'));
}

function rawRequest(target: Target, call: RawCall): Promise<void> {
  const { method, path, payload, upload, readBuffer, onBody } = call;
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    let status = 0;
    let chunked = false;
    let remaining = -1; // bytes left in the current chunk (chunked) or the body (content-length); -1: until close
    let state: 'head' | 'size' | 'data' | 'crlf' | 'done' = 'head';
    let sizeLine = '';
    let errorBody: Buffer[] | null = null;
    let settled = false;
    const fail = (err: Error) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
      socket.destroy();
    };
    let wait: Promise<void> | undefined;
    const emit = (data: Buffer) => {
      if (errorBody) errorBody.push(Buffer.from(data));
      else wait = onBody(data) ?? wait;
    };
    /** Feeds received bytes through the decoder. */
    const feed = (data: Buffer): void => {
      let at = 0;
      while (at < data.length && state !== 'done') {
        if (state === 'head') {
          head = Buffer.concat([head, data.subarray(at)]);
          const end = head.indexOf('\r\n\r\n');
          if (end === -1) return;
          const lines = head.subarray(0, end).toString('latin1').split('\r\n');
          status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
          if (status >= 100 && status < 200) {
            // An interim answer (100 Continue, 102 Processing): the real one follows.
            data = head.subarray(end + 4);
            head = Buffer.alloc(0);
            at = 0;
            continue;
          }
          const header = (name: string) =>
            lines
              .find((l) => l.toLowerCase().startsWith(`${name}:`))
              ?.slice(name.length + 1)
              .trim();
          chunked = /chunked/i.test(header('transfer-encoding') ?? '');
          const length = header('content-length');
          remaining = chunked ? 0 : length !== undefined ? Number(length) : -1;
          state = chunked ? 'size' : 'data';
          const rest = head.subarray(end + 4);
          head = Buffer.alloc(0);
          if (status >= 400 || status === 0) errorBody = [];
          else call.onHead?.(header);
          data = rest;
          at = 0;
          // An answer to HEAD has no body, whatever its length header says.
          if ((!chunked && remaining === 0) || method === 'HEAD') state = 'done';
          continue;
        }
        if (state === 'size') {
          const nl = data.indexOf('\n', at);
          sizeLine += data.subarray(at, nl === -1 ? data.length : nl).toString('latin1');
          if (nl === -1) return;
          at = nl + 1;
          remaining = parseInt(sizeLine.trim().split(';')[0] ?? '', 16);
          sizeLine = '';
          if (!Number.isFinite(remaining)) {
            fail(new Error(`the engine sent a malformed chunked answer to ${method} ${path}`));
            return;
          }
          state = remaining === 0 ? 'done' : 'data';
          continue;
        }
        if (state === 'data') {
          const take = remaining < 0 ? data.length - at : Math.min(remaining, data.length - at);
          emit(data.subarray(at, at + take));
          at += take;
          if (remaining >= 0) {
            remaining -= take;
            if (remaining === 0) state = chunked ? 'crlf' : 'done';
          }
          continue;
        }
        if (state === 'crlf') {
          const nl = data.indexOf('\n', at);
          if (nl === -1) return;
          at = nl + 1;
          state = 'size';
        }
      }
      if (state === 'done') finish();
    };
    const finish = () => {
      if (errorBody) {
        let json: { message?: string } = {};
        try {
          json = JSON.parse(Buffer.concat(errorBody).toString('utf8')) as { message?: string };
        } catch {
          // not JSON: the status says enough
        }
        fail(new EngineHttpError(status, json));
        return;
      }
      if (sent) {
        // An upload is done when the engine answered and the whole body went out: an answer
        // before the end (a proxy's, say) must not pass for a finished copy.
        const body = sent;
        settled = true;
        socket.end();
        body.then(resolve, (err: Error) => reject(new Error(`the engine answered ${method} ${path} before the whole body was sent: ${err.message}`, { cause: err })));
        return;
      }
      settled = true;
      resolve();
      socket.end();
    };
    const onread = {
      buffer: Buffer.allocUnsafe(readBuffer),
      // The buffer is reused for the next read: the consumer is done with it when feed returns.
      callback: (n: number, buf: Buffer): boolean => {
        if (settled) return false;
        try {
          feed(buf.subarray(0, n));
        } catch (err) {
          fail(err as Error);
        }
        if (!wait || settled) return true;
        const paused = wait;
        wait = undefined;
        paused.then(
          () => socket.resume(),
          (err: Error) => fail(err),
        );
        return false;
      },
    };
    let sent: Promise<void> | undefined;
    // TCP engines: no Nagle delay on a request's last small write (node:http set this too).
    const socket: Socket = 'socketPath' in target ? connect({ path: target.socketPath, onread }) : connect({ host: target.host, port: target.port, onread, noDelay: true });
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    socket.on('error', fail);
    socket.on('end', () => {
      if (state === 'data' && remaining < 0) {
        state = 'done';
        finish();
      } else if (state !== 'done') fail(new Error(`the engine closed the connection in the middle of ${method} ${path}`));
    });
    const host = 'socketPath' in target ? 'docker' : `${target.host}:${target.port}`;
    const bodyHeaders = upload
      ? `Content-Type: ${upload.contentType}\r\nTransfer-Encoding: chunked\r\n`
      : payload !== undefined
        ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n`
        : method === 'GET' || method === 'HEAD'
          ? ''
          : 'Content-Length: 0\r\n';
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: sandboxshift\r\n${bodyHeaders}Connection: close\r\n\r\n${payload ?? ''}`);
    if (upload) {
      sent = sendChunked(socket, upload.produce, () => settled);
      sent.catch(fail);
    }
  });
}

/**
 * Streams a chunked body: each buffer as one chunk (its size line, the bytes, CRLF in one
 * write), then the last chunk. Stops at once when the request has settled (the engine answered
 * early, or the connection failed): its answer, not a broken pipe, is what the caller gets.
 */
async function sendChunked(socket: Socket, produce: (send: BodySend) => Promise<void>, settled: () => boolean): Promise<void> {
  const write = (parts: Buffer[]): Promise<void> =>
    new Promise((resolve, reject) => {
      if (settled() || socket.destroyed) return reject(new Error('the engine ended the request before its body was sent'));
      socket.cork();
      for (let i = 0; i < parts.length - 1; i++) socket.write(parts[i]!);
      socket.write(parts[parts.length - 1]!, (err) => (err ? reject(err) : resolve()));
      socket.uncork();
    });
  await produce((chunk) => (chunk.length === 0 ? Promise.resolve() : write([Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'), chunk, CRLF])));
  await write([LAST_CHUNK]);
}

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/**
 * A POST that asks for the connection (`Upgrade: tcp`, as `docker exec` does): resolves with the
 * socket once the engine answered 101, what came after the answer's head put back for the
 * reader, which must start it (`resume()`); rejects with the engine's message otherwise.
 */
export function rawUpgrade(target: Target, path: string, body: unknown): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const socket: Socket = 'socketPath' in target ? connect({ path: target.socketPath }) : connect({ host: target.host, port: target.port });
    let received = Buffer.alloc(0);
    let status = -1;
    let head = '';
    const refuse = () => {
      // The engine's refusal (or a connection closed before any answer): its message, as node:http's path gave it.
      const text = (/transfer-encoding:\s*chunked/i.test(head) ? dechunk(received) : received).toString('utf8').trim();
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // plain text is the message
      }
      reject(new EngineHttpError(Math.max(status, 0), { message: message || `the engine did not attach: POST ${path}` }));
      socket.destroy();
    };
    /** The refusal's body is all here (the engine may keep the connection open after it). */
    const complete = () => {
      const length = /content-length:\s*(\d+)/i.exec(head)?.[1];
      if (length !== undefined) return received.length >= Number(length);
      return /transfer-encoding:\s*chunked/i.test(head) && received.includes('\r\n0\r\n\r\n');
    };
    const onData = (data: Buffer) => {
      received = Buffer.concat([received, data]);
      if (status === -1) {
        const end = received.indexOf('\r\n\r\n');
        if (end === -1) return;
        head = received.subarray(0, end).toString('latin1');
        status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
        received = received.subarray(end + 4);
        if (status === 101) {
          socket.off('data', onData);
          socket.off('error', reject);
          socket.off('end', refuse);
          socket.pause();
          if (received.length > 0) socket.unshift(received);
          resolve(socket);
          return;
        }
      }
      if (complete()) refuse();
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.on('end', refuse);
    const host = 'socketPath' in target ? 'docker' : `${target.host}:${target.port}`;
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: sandboxshift\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n${payload}`,
    );
  });
}

/** A whole chunked body, decoded (a refusal's few bytes; downloads decode as they stream). */
function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const nl = data.indexOf('\r\n', at);
    const size = nl === -1 ? NaN : parseInt(data.subarray(at, nl).toString('latin1').split(';')[0] ?? '', 16);
    if (!(size > 0)) break;
    parts.push(data.subarray(nl + 2, nl + 2 + size));
    at = nl + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
