// Policy reloads with connections open, on real loopback sockets: what the new list still allows
// keeps flowing (nothing paused, nothing cut short); what it refuses is closed and logged.
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../../src/egress/index.js';
import { captureClientHello } from './client-hello-fixture.js';
import { connectRequest, rawRequest, sleep, startProxy, type Harness } from './proxy-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const PIECE = 64 * 1024;
const PIECES = 40;

/** A server that, once a client has sent anything, sends PIECES pieces 10 ms apart, then ends. */
async function startSlowDownload() {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('data', () => {
      let sent = 0;
      const tick = setInterval(() => {
        if (socket.destroyed) return clearInterval(tick);
        socket.write(Buffer.alloc(PIECE, sent % 256));
        if (++sent === PIECES) {
          clearInterval(tick);
          socket.end();
        }
      }, 10);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  cleanups.push(close);
  return { port: (server.address() as AddressInfo).port };
}

async function proxyFor(allow: string[]): Promise<Harness> {
  const h = await startProxy({ allow, names: { 'allowed.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] } });
  cleanups.push(h.close);
  return h;
}

async function download(h: Harness, host: string, port: number) {
  const tunnel = await rawRequest(h.port, connectRequest(`${host}:${port}`));
  expect(tunnel.status).toBe(200);
  tunnel.socket.write(await captureClientHello(host));
  return tunnel;
}

describe('reload with connections open', () => {
  it('leaves a download the new policy still allows running: every byte arrives', async () => {
    const server = await startSlowDownload();
    const h = await proxyFor([`allowed.test:${server.port}`, '127.0.0.0/8']);
    const tunnel = await download(h, 'allowed.test', server.port);
    const before = (await tunnel.bytes(PIECE)).length;

    const result = h.proxy.reload(parsePolicy([`allowed.test:${server.port}`, 'new.test', '127.0.0.0/8']).policy);
    expect(result).toEqual({ kept: 1, closed: 0 });
    const all = await tunnel.closed;
    expect(before).toBeLessThan(PIECE * PIECES);
    expect(all.length).toBe(PIECE * PIECES);
    expect(all[all.length - 1]).toBe((PIECES - 1) % 256);
    expect(h.decisions().map((d) => d.decision)).toEqual(['allow']);
    await sleep(20);
    expect(h.proxy.openConnections.size).toBe(0);
  });

  it('closes and logs a download whose host the new policy removed, and keeps the other', async () => {
    const server = await startSlowDownload();
    const h = await proxyFor([`allowed.test:${server.port}`, `other.test:${server.port}`, '127.0.0.0/8']);
    const removed = await download(h, 'allowed.test', server.port);
    const kept = await download(h, 'other.test', server.port);
    await removed.bytes(PIECE);
    await kept.bytes(PIECE);

    expect(h.proxy.reload(parsePolicy([`other.test:${server.port}`, '127.0.0.0/8']).policy)).toEqual({ kept: 1, closed: 1 });
    expect((await removed.closed).length).toBeLessThan(PIECE * PIECES);
    expect((await kept.closed).length).toBe(PIECE * PIECES);
    const closedLine = h.decisions()[2];
    expect(closedLine).toMatchObject({
      client: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      method: 'CONNECT',
      host: 'allowed.test',
      port: server.port,
      decision: 'deny',
      rule: `allowed.test:${server.port}`,
      reason: 'closed on policy reload: no rule matches allowed.test',
    });
    expect(h.decisions()).toHaveLength(3);
  });

  it('closes a connection whose address the new policy no longer opens, without resolving again', async () => {
    const server = await startSlowDownload();
    const h = await proxyFor([`allowed.test:${server.port}`, '127.0.0.0/8']);
    const tunnel = await download(h, 'allowed.test', server.port);
    await tunnel.bytes(PIECE);
    // The name is still allowed, but 127.0.0.1 is loopback and no address entry opens it now.
    expect(h.proxy.reload(parsePolicy([`allowed.test:${server.port}`]).policy)).toEqual({ kept: 0, closed: 1 });
    await tunnel.closed;
    expect(h.resolverCalls).toEqual(['allowed.test']);
    expect(h.decisions()[1]?.reason).toBe('closed on policy reload: allowed.test is connected to 127.0.0.1 is loopback (127.0.0.0/8) and no address entry inside that range allows it');
  });

  it('closes a forwarded request the new policy refuses, and logs it', async () => {
    const server = createServer((socket) => {
      socket.on('error', () => socket.destroy());
      // A response that never finishes: headers and a first piece, then nothing.
      socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\nfirst'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const h = await proxyFor([`allowed.test:${port}`, '127.0.0.0/8']);
    const exchange = await rawRequest(h.port, `GET http://allowed.test:${port}/file HTTP/1.1\r\nHost: allowed.test:${port}\r\n\r\n`);
    expect(exchange.status).toBe(200);
    await exchange.bytes(5);
    expect(h.proxy.openConnections.list()).toMatchObject([{ method: 'GET', port, address: '127.0.0.1', rule: `allowed.test:${port}` }]);

    expect(h.proxy.reload(parsePolicy([]).policy)).toEqual({ kept: 0, closed: 1 });
    await exchange.closed;
    expect(h.decisions()[1]).toMatchObject({ method: 'GET', host: 'allowed.test', decision: 'deny', reason: 'closed on policy reload: no rule matches allowed.test' });
  });
});
