// Backpressure in an exec session, both ways, against a stand-in for the engine's connection:
// a slow reader of the output stops us reading the connection until it drains, and a connection
// that takes the input slowly stops us reading stdin, as a pipe would, so nothing piles up here.
import { Duplex, PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ExecApi } from '../../../src/engine/exec-api.js';
import { runExecSession } from '../../../src/engine/exec-session.js';

const frame = (stream: 1 | 2, payload: Buffer) => {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

/** A writer whose writes finish only when `release` is called: a reader not reading yet. */
function held<T extends Duplex | Writable>(make: (write: (chunk: Buffer, done: () => void) => void) => T) {
  const taken: Buffer[] = [];
  let pending: (() => void) | undefined;
  const stream = make((chunk, done) => {
    taken.push(chunk);
    pending = done;
  });
  const release = () => {
    const done = pending;
    pending = undefined;
    done?.();
  };
  return { stream, taken, release };
}

const tick = () => new Promise((r) => setImmediate(r));

/** The engine's exec calls, its hijacked connection `socket`, the command exiting 0. */
const api = (socket: Duplex): ExecApi => ({
  create: async () => 'exec-1',
  start: async () => socket,
  resize: async () => undefined,
  inspect: async () => ({ Running: false, ExitCode: 0 }),
});

const request = { containerId: 'c', argv: ['cat'], workingDir: '/workspace' };

describe('runExecSession backpressure', () => {
  it('stops reading the connection while stdout or stderr is full, and reads on once it drains', async () => {
    const socket = new Duplex({ read: () => undefined, write: (_c, _e, done) => done() });
    const stdout = held((write) => new Writable({ highWaterMark: 1024, write: (chunk: Buffer, _e, done) => write(chunk, done) }));
    const stderr = held((write) => new Writable({ highWaterMark: 1024, write: (chunk: Buffer, _e, done) => write(chunk, done) }));
    const session = runExecSession(api(socket), request, { stdout: stdout.stream, stderr: stderr.stream });
    await tick();
    socket.push(frame(1, Buffer.alloc(4096, 'o')));
    await tick();
    expect(socket.isPaused()).toBe(true);
    stdout.release();
    await tick();
    expect(socket.isPaused()).toBe(false);
    // stderr alike, and stdout's frames stay on stdout.
    socket.push(Buffer.concat([frame(2, Buffer.alloc(4096, 'e')), frame(1, Buffer.from('out'))]));
    await tick();
    expect(socket.isPaused()).toBe(true);
    stderr.release();
    await tick();
    expect(socket.isPaused()).toBe(false);
    socket.push(null);
    stdout.release();
    expect(await session).toBe(0);
    expect(Buffer.concat(stdout.taken).toString()).toBe(`${'o'.repeat(4096)}out`);
    expect(Buffer.concat(stderr.taken).toString()).toBe('e'.repeat(4096));
  });

  it('stops reading stdin while the connection is full, and reads on once it drains', async () => {
    const socket = held((write) => new Duplex({ writableHighWaterMark: 1024, read: () => undefined, write: (chunk: Buffer, _e, done) => write(chunk, done) }));
    const stdin = new PassThrough();
    const sink = new Writable({ write: (_c, _e, done) => done() });
    const session = runExecSession(api(socket.stream), request, { stdin, stdout: sink, stderr: sink });
    await tick();
    stdin.write(Buffer.alloc(4096, 'i'));
    await tick();
    expect(stdin.isPaused()).toBe(true);
    socket.release();
    await tick();
    expect(stdin.isPaused()).toBe(false);
    stdin.end('end');
    await tick();
    socket.release();
    socket.stream.push(null);
    expect(await session).toBe(0);
    expect(Buffer.concat(socket.taken).toString()).toBe(`${'i'.repeat(4096)}end`);
  });
});
