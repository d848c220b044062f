// Spare upstream connections on 127.0.0.1: the next tunnel to an address starts on a connection
// opened for it beforehand, but only one nobody has spoken on, only to the address its own check
// yields, and none outlives a policy reload or its time limit.
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../../src/egress/index.js';
import { captureClientHello } from './client-hello-fixture.js';
import { connectRequest, rawRequest, sleep, startProxy } from './proxy-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * An upstream that numbers its connections (0, 1, ...) and records what each received and whether
 * it is closed; it answers `pong` to each connection's first bytes. `endIdle` ends every connection
 * that has received nothing yet, as a server with a short idle limit does.
 */
async function startNumberedServer() {
  const connections: Array<{ socket: Socket; received: Buffer; closed: boolean }> = [];
  const server = createServer((socket) => {
    const entry = { socket, received: Buffer.alloc(0), closed: false };
    connections.push(entry);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => (entry.closed = true));
    socket.on('data', (chunk: Buffer) => {
      if (entry.received.length === 0) socket.write('pong');
      entry.received = Buffer.concat([entry.received, chunk]);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.socket.destroy();
        server.close(() => resolve());
      }),
  );
  const endIdle = () => {
    for (const c of connections) if (c.received.length === 0) c.socket.end();
  };
  return { port: (server.address() as AddressInfo).port, connections, endIdle };
}

async function until(what: string, condition: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function setup(options: { spareTtlMs?: number } = {}) {
  const upstream = await startNumberedServer();
  const names: Record<string, string[]> = { 'allowed.test': ['127.0.0.1'] };
  const h = await startProxy({ allow: [`allowed.test:${upstream.port}`, '127.0.0.0/8'], names, spareTtlMs: options.spareTtlMs ?? 5000 });
  cleanups.push(h.close);
  const hello = await captureClientHello('allowed.test');
  /** Opens a tunnel, sends a ClientHello and waits for the upstream's answer. */
  const tunnel = async () => {
    const t = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    expect(t.head).toBe('HTTP/1.1 200 Connection Established');
    t.socket.write(hello);
    expect((await t.bytes(4)).toString()).toBe('pong');
    return t;
  };
  return { upstream, h, names, hello, tunnel };
}

describe('spare upstream connections', () => {
  it('start the next tunnel to the same address on the connection opened after the last one', async () => {
    const { upstream, h, hello, tunnel } = await setup();
    const first = await tunnel();
    await until('the spare', () => upstream.connections.length === 2);
    expect(upstream.connections[1]?.received.length).toBe(0);

    const second = await tunnel();
    // The second tunnel's bytes went to the spare (connection 1); a new spare (2) waits, unused.
    expect(upstream.connections[1]?.received).toEqual(hello);
    await until('the next spare', () => upstream.connections.length === 3);
    expect(upstream.connections[2]?.received.length).toBe(0);
    expect(h.connectCalls).toEqual(Array.from({ length: 3 }, () => ({ address: '127.0.0.1', port: upstream.port })));
    expect(h.decisions().map((d) => [d.decision, d.reason])).toEqual([
      ['allow', `allowed by 'allowed.test:${upstream.port}'; connected to 127.0.0.1`],
      ['allow', `allowed by 'allowed.test:${upstream.port}'; connected to 127.0.0.1`],
    ]);
    first.socket.destroy();
    second.socket.destroy();
  });

  it('are not used once their server has closed them: the tunnel gets a new connection', async () => {
    const { upstream, hello, tunnel } = await setup();
    (await tunnel()).socket.destroy();
    await until('the spare', () => upstream.connections.length === 2);
    upstream.endIdle();
    await until('the spare to be closed', () => upstream.connections[1]?.closed === true);

    const second = await tunnel();
    expect(upstream.connections[1]?.received.length).toBe(0);
    const used = upstream.connections.find((c) => c.received.length > 0 && c !== upstream.connections[0]);
    expect(used?.received).toEqual(hello);
    second.socket.destroy();
  });

  it('are used only for the address the new check yields', async () => {
    const { upstream, h, names, tunnel } = await setup();
    (await tunnel()).socket.destroy();
    await until('the spare', () => upstream.connections.length === 2);

    // The name now resolves to an address nothing listens on: the spare to 127.0.0.1 is not taken.
    names['allowed.test'] = ['127.0.0.2'];
    const refused = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    expect(refused.status).toBe(502);
    expect(h.connectCalls.at(-1)).toEqual({ address: '127.0.0.2', port: upstream.port });
    expect(h.decisions().at(-1)).toMatchObject({ decision: 'deny', reason: expect.stringMatching(/^could not connect: connect ECONNREFUSED 127\.0\.0\.2:\d+$/) });
    expect(upstream.connections[1]?.closed).toBe(false);
  });

  it('are closed by a policy reload, even one that changes nothing', async () => {
    const { upstream, h, tunnel } = await setup();
    const first = await tunnel();
    await until('the spare', () => upstream.connections.length === 2);
    h.proxy.reload(parsePolicy([`allowed.test:${upstream.port}`, '127.0.0.0/8']).policy);
    // Well within the 5 s a spare may wait: the reload closed it, the open tunnel stays.
    await until('the spare to be closed on reload', () => upstream.connections[1]?.closed === true, 1000);
    expect(upstream.connections[0]?.closed).toBe(false);
    first.socket.destroy();
  });

  it('are closed when no tunnel took them within their time limit', async () => {
    const { upstream, tunnel } = await setup({ spareTtlMs: 300 });
    const first = await tunnel();
    await until('the spare', () => upstream.connections.length === 2);
    await sleep(100);
    expect(upstream.connections[1]?.closed).toBe(false);
    await until('the spare to time out', () => upstream.connections[1]?.closed === true, 1000);
    expect(upstream.connections[0]?.closed).toBe(false);
    first.socket.destroy();
  });
});
