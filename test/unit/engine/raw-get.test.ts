// The archive download's own HTTP/1.1 reader, against a local server that splits its answer at
// awkward places: chunk sizes, CRLFs and headers cut across reads.
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rawGet, rawHead, rawJson, rawPut, rawUpgrade } from '../../../src/engine/raw-get.js';
import { EngineHttpError } from '../../../src/engine/reader.js';

let server: Server | undefined;
let dir: string | undefined;

function serve(answer: (socket: Socket, request: string) => void): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), 'ss-rawget-'));
  const path = join(dir, 'engine.sock');
  server = createServer((socket) => {
    let request = '';
    socket.on('data', (d: Buffer) => {
      request += d.toString('latin1');
      if (request.includes('\r\n\r\n')) answer(socket, request);
    });
  });
  return new Promise((resolve) => server!.listen(path, () => resolve(path)));
}

/** Writes the pieces one at a time, a little apart, so the reader sees them as separate reads. */
async function dribble(socket: Socket, pieces: Array<string | Buffer>): Promise<void> {
  for (const piece of pieces) {
    socket.write(piece);
    await new Promise((r) => setTimeout(r, 5));
  }
  socket.end();
}

/** The body rawGet hands over, copied piece by piece (its views are valid only during the call). */
async function text(socketPath: string, url: string): Promise<string> {
  const parts: Buffer[] = [];
  await rawGet({ socketPath }, url, (c) => {
    parts.push(Buffer.from(c));
  });
  return Buffer.concat(parts).toString('utf8');
}

afterEach(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('rawGet', () => {
  it('decodes a chunked body cut at every awkward place', async () => {
    let seen = '';
    const path = await serve((socket, request) => {
      seen = request;
      void dribble(socket, [
        'HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nTransfer-',
        'Encoding: chunked\r\n\r',
        '\n5\r\nhel',
        'lo\r',
        '\n',
        '1',
        '0;ext=1\r\n0123456789abcdef\r\n',
        '0\r\n\r\n',
      ]);
    });
    expect(await text(path, '/containers/c/archive?path=%2Fworkspace')).toBe('hello0123456789abcdef');
    expect(seen).toMatch(/^GET \/containers\/c\/archive\?path=%2Fworkspace HTTP\/1\.1\r\n/);
  });

  it('reads a body with a Content-Length', async () => {
    const path = await serve((socket) => void dribble(socket, ['HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nab', 'cdef']));
    expect(await text(path, '/x')).toBe('abcdef');
  });

  it("rejects with the engine's message on an error status", async () => {
    const path = await serve((socket) => void dribble(socket, ['HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 32\r\n\r\n', '{"message":"Could not find it"}\n']));
    const err = await text(path, '/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineHttpError);
    expect((err as EngineHttpError).statusCode).toBe(404);
    expect((err as Error).message).toBe('Could not find it');
  });

  it('fails the stream when the engine hangs up in the middle of a chunk', async () => {
    const path = await serve((socket) => void dribble(socket, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly-half']));
    await expect(text(path, '/x')).rejects.toThrow('the engine closed the connection in the middle of GET /x');
  });

  it('stops and rejects with what the consumer threw, taking nothing more', async () => {
    const path = await serve((socket) => void dribble(socket, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', '3\r\ndef\r\n', '0\r\n\r\n']));
    const seen: string[] = [];
    const got = rawGet({ socketPath: path }, '/x', (c) => {
      seen.push(c.toString('utf8'));
      throw new Error('refused: the copy stopped there');
    });
    await expect(got).rejects.toThrow('refused: the copy stopped there');
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toEqual(['abc']);
  });
});

describe('rawJson', () => {
  it('sends a JSON body with its length and reads a chunked JSON answer', async () => {
    let seen = '';
    const path = await serve((socket, request) => {
      seen = request;
      void dribble(socket, ['HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n', '9\r\n{"Id":"ab\r\n', '3\r\nc"}\r\n0\r\n\r\n']);
    });
    expect(await rawJson({ socketPath: path }, 'POST', '/containers/c/exec', { Cmd: ['true'] })).toEqual({ Id: 'abc' });
    expect(seen).toBe(
      'POST /containers/c/exec HTTP/1.1\r\nHost: docker\r\nUser-Agent: sandboxshift\r\nContent-Type: application/json\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{"Cmd":["true"]}',
    );
  });

  it('says so when a successful answer is not JSON, and gives an error status as the engine put it', async () => {
    const path = await serve((socket, request) =>
      request.startsWith('GET /ok')
        ? void dribble(socket, ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'])
        : void dribble(socket, ['HTTP/1.1 409 Conflict\r\nContent-Length: 40\r\n\r\n{"message":"container c is not running"}']),
    );
    await expect(rawJson({ socketPath: path }, 'GET', '/ok')).rejects.toThrow(/^engine sent a non-JSON answer to GET \/ok: /);
    const err = await rawJson({ socketPath: path }, 'POST', '/no').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineHttpError);
    expect((err as EngineHttpError).statusCode).toBe(409);
    expect((err as Error).message).toBe('container c is not running');
  });
});

describe('rawUpgrade', () => {
  it('hands over the connection on 101, with what came after the head put back first', async () => {
    let seen = '';
    const path = await serve((socket, request) => {
      seen = request;
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nfirst ');
      setTimeout(() => socket.end('second'), 20);
    });
    const socket = await rawUpgrade({ socketPath: path }, '/exec/e/start', { Detach: false, Tty: false });
    // Nothing is lost while nobody reads: the reader starts it.
    await new Promise((r) => setTimeout(r, 50));
    const parts: string[] = [];
    socket.on('data', (d: Buffer) => parts.push(d.toString()));
    socket.resume();
    await new Promise((r) => socket.once('end', r));
    expect(parts.join('')).toBe('first second');
    expect(seen).toMatch(/^POST \/exec\/e\/start HTTP\/1\.1\r\n(.*\r\n)*Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n\{"Detach":false,"Tty":false\}$/);
  });

  it.each([
    ['a length', ['HTTP/1.1 404 Not Found\r\nContent-Length: 35\r\n\r\n{"message":"No such exec', ' instance"}']],
    ['chunks', ['HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n23\r\n{"message":"No such exec instance"}\r\n', '0\r\n\r\n']],
  ])("rejects with the engine's message when it refuses, its body read by %s though the connection stays open", async (_how, pieces) => {
    const path = await serve((socket) => {
      for (const piece of pieces) socket.write(piece);
    });
    const err = await rawUpgrade({ socketPath: path }, '/exec/e/start', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineHttpError);
    expect((err as EngineHttpError).statusCode).toBe(404);
    expect((err as Error).message).toBe('No such exec instance');
  });
});

/** A server that reads a whole request (head and chunked body) before `answer` sees it. */
function serveWhole(answer: (socket: Socket, head: string, body: Buffer) => void): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), 'ss-rawget-'));
  const path = join(dir, 'engine.sock');
  server = createServer((socket) => {
    let received = Buffer.alloc(0);
    let done = false;
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      const end = received.indexOf('\r\n\r\n');
      if (done || end === -1 || !received.includes('0\r\n\r\n', end + 4)) return;
      done = true;
      answer(socket, received.subarray(0, end).toString('latin1'), dechunked(received.subarray(end + 4)));
    });
  });
  return new Promise((resolve) => server!.listen(path, () => resolve(path)));
}

function dechunked(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const nl = data.indexOf('\r\n', at);
    const size = parseInt(data.subarray(at, nl).toString('latin1'), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(data.subarray(nl + 2, nl + 2 + size));
    at = nl + 2 + size + 2;
  }
}

describe('rawHead', () => {
  it('returns the headers without waiting for a body its Content-Length announces', async () => {
    let seen = '';
    const path = await serve((socket, request) => {
      seen = request;
      // The engine's HEAD answer names a length but sends no body, and keeps the connection open.
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nX-Docker-Container-Path-Stat: eyJuYW1lIjoid29ya3NwYWNlIn0=\r\n\r\n');
    });
    const header = await rawHead({ socketPath: path }, '/containers/c/archive?path=%2Fworkspace');
    expect(header('x-docker-container-path-stat')).toBe('eyJuYW1lIjoid29ya3NwYWNlIn0=');
    expect(header('x-missing')).toBeUndefined();
    expect(seen).toMatch(/^HEAD \/containers\/c\/archive\?path=%2Fworkspace HTTP\/1\.1\r\n/);
    expect(seen).not.toMatch(/content-length/i);
  });

  it('rejects with the status when the path is missing (a HEAD answer has no message)', async () => {
    const path = await serve((socket) => socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 40\r\n\r\n'));
    const err = await rawHead({ socketPath: path }, '/containers/c/archive?path=%2Fnope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineHttpError);
    expect((err as EngineHttpError).statusCode).toBe(404);
  });
});

describe('rawPut', () => {
  it('streams the body chunked, each buffer as sent, and resolves on the answer', async () => {
    let head = '';
    let body: Buffer = Buffer.alloc(0);
    const path = await serveWhole((socket, h, b) => {
      head = h;
      body = b;
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    });
    const big = Buffer.alloc(3 << 20, 7);
    await rawPut({ socketPath: path }, '/containers/c/archive?path=%2Fworkspace', 'application/x-tar', async (send) => {
      await send(Buffer.from('first'));
      await send(Buffer.alloc(0));
      await send(big);
    });
    expect(head).toMatch(/^PUT \/containers\/c\/archive\?path=%2Fworkspace HTTP\/1\.1\r\n/);
    expect(head).toMatch(/\r\nContent-Type: application\/x-tar\r\n/);
    expect(head).toMatch(/\r\nTransfer-Encoding: chunked\r\n/);
    expect(body.length).toBe(5 + big.length);
    expect(body.subarray(0, 5).toString()).toBe('first');
    expect(body.subarray(5).equals(big)).toBe(true);
  });

  it("gives the engine's early refusal, not a broken pipe, and stops sending", async () => {
    let answered = false;
    const path = await serve((socket) => {
      // Answered at the head, as the engine does when it refuses before reading the body.
      if (answered) return;
      answered = true;
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 38\r\n\r\n{"message":"cannot overwrite folder"}\n');
    });
    let sent = 0;
    let refusedSend: unknown;
    const err = await rawPut({ socketPath: path }, '/containers/c/archive?path=%2Fworkspace', 'application/x-tar', async (send) => {
      try {
        for (;;) {
          await send(Buffer.alloc(1 << 20));
          sent++;
          if (sent > 10_000) throw new Error('the body was never stopped');
        }
      } catch (e) {
        refusedSend = e;
        throw e;
      }
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineHttpError);
    expect((err as EngineHttpError).statusCode).toBe(400);
    expect((err as Error).message).toContain('cannot overwrite folder');
    // The producer's next send fails (the refusal may arrive while one is still being written).
    await vi.waitFor(() => expect(refusedSend).toBeInstanceOf(Error));
    expect(sent).toBeLessThan(10_000);
  });

  it("closes the connection and rejects with the producer's own error", async () => {
    let closed = false;
    let watching = false;
    const path = await serve((socket) => {
      if (!watching) socket.on('close', () => (closed = true));
      watching = true;
    });
    const err = await rawPut({ socketPath: path }, '/p', 'application/x-tar', async (send) => {
      await send(Buffer.from('part'));
      throw new Error('source file vanished');
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('source file vanished');
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(true);
  });

  it('skips an interim 100 Continue and gives the real answer', async () => {
    let answered = false;
    const path = await serve((socket) => {
      if (answered) return;
      answered = true;
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"message":"bad"}');
    });
    const err = await rawPut({ socketPath: path }, '/p', 'application/x-tar', async (send) => {
      await send(Buffer.from('part'));
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineHttpError);
    expect((err as EngineHttpError).statusCode).toBe(400);
    expect((err as Error).message).toContain('bad');
  });

  it('rejects when a success answer comes before the whole body went out (an upload cut short is not a copy)', async () => {
    let answered = false;
    const path = await serve((socket) => {
      if (answered) return;
      answered = true;
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    });
    const err = await rawPut({ socketPath: path }, '/containers/c/archive?path=%2Fworkspace', 'application/x-tar', async (send) => {
      for (let i = 0; i < 10_000; i++) await send(Buffer.alloc(1 << 20));
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^the engine answered PUT \/containers\/c\/archive\?path=%2Fworkspace before the whole body was sent: /);
  });
});
