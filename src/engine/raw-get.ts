// A streamed HTTP/1.1 GET straight on the engine's socket, for archive downloads. node:http
// reads the socket 64 KiB at a time through its parser and a 16 KiB response buffer, which took
// about 2.5x docker cp's time for a 200 MB file; reading into one 1 MiB buffer (net's `onread`)
// and decoding the chunked body here keeps up with it. The body goes to a synchronous consumer
// as views of that buffer, never copied: the next read waits until the consumer returns (that is
// the backpressure), and a copy of every chunk into fresh memory took a fifth of the copy's time.
import { connect, type Socket } from 'node:net';
import { EngineHttpError } from './reader.js';

type Target = { socketPath: string } | { host: string; port: number };

const READ_BUFFER = 1 << 20;

/**
 * GETs `path` and hands the body to `onBody` piece by piece (views valid only during the call);
 * resolves once all of it was taken. When `onBody` returns a promise, the socket is not read
 * again until it settles. Rejects with the engine's error (status >= 400), a broken
 * connection, or what `onBody` threw (the connection is closed then).
 */
export function rawGet(target: Target, path: string, onBody: (data: Buffer) => void | Promise<void>): Promise<void> {
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
          data = rest;
          at = 0;
          if (!chunked && remaining === 0) state = 'done';
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
            fail(new Error(`the engine sent a malformed chunked answer to GET ${path}`));
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
      settled = true;
      resolve();
      socket.end();
    };
    const onread = {
      buffer: Buffer.allocUnsafe(READ_BUFFER),
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
    const socket: Socket = 'socketPath' in target ? connect({ path: target.socketPath, onread }) : connect({ host: target.host, port: target.port, onread });
    socket.on('error', fail);
    socket.on('end', () => {
      if (state === 'data' && remaining < 0) {
        state = 'done';
        finish();
      } else if (state !== 'done') fail(new Error(`the engine closed the connection in the middle of GET ${path}`));
    });
    const host = 'socketPath' in target ? 'docker' : `${target.host}:${target.port}`;
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: sandboxshift\r\nConnection: close\r\n\r\n`);
  });
}
