// CONNECT tunnels end to end on 127.0.0.1: what gets through, what is refused before anything is
// resolved, and what is cut off after the 200 because of its ClientHello.
import { afterEach, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../../src/egress/index.js';
import { captureClientHello, clientHelloMessage, inRecords } from './client-hello-fixture.js';
import { connectRequest, rawRequest, sleep, startAnswerAtEofServer, startProxy, startRecordingServer, type Harness } from './proxy-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  allow: (upstreamPort: number) => string[],
  options: { names?: Record<string, string[]>; helloTimeoutMs?: number; portMap?: (upstreamPort: number) => Record<number, number> } = {},
) {
  const upstream = await startRecordingServer(Buffer.from('pong'));
  cleanups.push(upstream.close);
  const h: Harness = await startProxy({ allow: allow(upstream.port), names: options.names, helloTimeoutMs: options.helloTimeoutMs, portMap: options.portMap?.(upstream.port) });
  cleanups.push(h.close);
  return { upstream, h };
}

const allowLoopback = (port: number) => [`allowed.test:${port}`, '127.0.0.0/8'];

describe('CONNECT allowed', () => {
  it('tunnels to the checked address once the ClientHello names the host', async () => {
    const { upstream, h } = await setup(allowLoopback);
    const hello = await captureClientHello('allowed.test');
    const tunnel = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    expect(tunnel.head).toBe('HTTP/1.1 200 Connection Established');

    tunnel.socket.write(Buffer.concat([hello, Buffer.from('more')]));
    expect((await tunnel.bytes(4)).toString()).toBe('pong');
    await sleep(20);
    expect(upstream.received()).toEqual(Buffer.concat([hello, Buffer.from('more')]));

    expect(h.resolverCalls).toEqual(['allowed.test']);
    expect(h.connectCalls).toEqual([{ address: '127.0.0.1', port: upstream.port }]);
    const [decision, ...rest] = h.decisions();
    expect(rest).toEqual([]);
    expect(decision).toEqual({
      ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      client: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      method: 'CONNECT',
      host: 'allowed.test',
      port: upstream.port,
      decision: 'allow',
      rule: `allowed.test:${upstream.port}`,
      reason: `allowed by 'allowed.test:${upstream.port}'; connected to 127.0.0.1`,
      resolved: ['127.0.0.1'],
    });
    tunnel.socket.destroy();
  });

  it('reads a ClientHello that arrives over several TCP chunks and in several records', async () => {
    const { upstream, h } = await setup(allowLoopback);
    const hello = inRecords(clientHelloMessage({ serverNames: ['Allowed.Test.'] }), 40);
    const tunnel = await rawRequest(h.port, connectRequest(`ALLOWED.test:${upstream.port}`));
    expect(tunnel.status).toBe(200);
    for (const piece of [hello.subarray(0, 3), hello.subarray(3, 50), hello.subarray(50)]) {
      tunnel.socket.write(piece);
      await sleep(15);
    }
    expect((await tunnel.bytes(4)).toString()).toBe('pong');
    expect(upstream.received()).toEqual(hello);
    expect(h.decisions()).toMatchObject([{ decision: 'allow', host: 'allowed.test' }]);
    tunnel.socket.destroy();
  });

  it('lets plain HTTP through a port-80 tunnel without a ClientHello', async () => {
    const { upstream, h } = await setup(() => ['allowed.test', '127.0.0.0/8'], { portMap: (port) => ({ 80: port }) });
    const tunnel = await rawRequest(h.port, connectRequest('allowed.test:80'));
    expect(tunnel.status).toBe(200);
    tunnel.socket.write('GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n');
    expect((await tunnel.bytes(4)).toString()).toBe('pong');
    expect(upstream.received().toString()).toBe('GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n');
    expect(h.connectCalls).toEqual([{ address: '127.0.0.1', port: 80 }]);
    expect(h.decisions()).toMatchObject([{ decision: 'allow', port: 80, rule: 'allowed.test' }]);
    tunnel.socket.destroy();
  });

  it('tunnels to an IP literal inside an address entry, where no server name is expected', async () => {
    const { upstream, h } = await setup((port) => [`127.0.0.1:${port}`]);
    const hello = await captureClientHello();
    const tunnel = await rawRequest(h.port, connectRequest(`127.0.0.1:${upstream.port}`));
    expect(tunnel.status).toBe(200);
    tunnel.socket.write(hello);
    expect((await tunnel.bytes(4)).toString()).toBe('pong');
    expect(h.resolverCalls).toEqual([]);
    expect(h.decisions()).toMatchObject([{ decision: 'allow', host: '127.0.0.1', rule: `127.0.0.1:${upstream.port}` }]);
    expect(h.decisions()[0]).not.toHaveProperty('resolved');
    tunnel.socket.destroy();
  });
});

describe('CONNECT refused before anything is resolved', () => {
  const names = { 'allowed.test': ['127.0.0.1'], 'evil.test': ['127.0.0.1'], 'evilallowed.test': ['127.0.0.1'], 'allowed.test.evil.test': ['127.0.0.1'] };

  it.each(['evil.test', 'evilallowed.test', 'allowed.test.evil.test'])('refuses %s with 403 and never resolves it', async (name) => {
    const { upstream, h } = await setup(allowLoopback, { names });
    const reply = await rawRequest(h.port, connectRequest(`${name}:${upstream.port}`));
    expect(reply.status).toBe(403);
    const body = (await reply.closed).toString();
    expect(body).toContain(`SandboxShift egress: ${name}:${upstream.port} is not allowed by this environment's egress policy\n`);
    expect(body).toContain(`to allow it, add '${name}:${upstream.port}' to this environment's egress.allow in sandboxshift.yaml, then run sandboxshift apply\n`);
    expect(h.resolverCalls).toEqual([]);
    expect(h.connectCalls).toEqual([]);
    expect(h.decisions()).toMatchObject([{ method: 'CONNECT', host: name, port: upstream.port, decision: 'deny', reason: `no rule matches ${name}` }]);
  });

  it('refuses an allowed host on a port it is not allowed', async () => {
    const { upstream, h } = await setup(allowLoopback);
    const reply = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port + 1}`));
    expect(reply.status).toBe(403);
    expect(h.resolverCalls).toEqual([]);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', rule: `allowed.test:${upstream.port}`, reason: expect.stringContaining(`port ${upstream.port + 1} is not allowed`) }]);
  });

  it('refuses an IP literal without an address entry', async () => {
    const { upstream, h } = await setup((port) => [`allowed.test:${port}`]);
    const reply = await rawRequest(h.port, connectRequest(`127.0.0.1:${upstream.port}`));
    expect(reply.status).toBe(403);
    expect((await reply.closed).toString()).toContain("add '127.0.0.1/32' to this environment's egress.allow");
    expect(h.connectCalls).toEqual([]);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', host: '127.0.0.1', reason: 'no address rule covers 127.0.0.1' }]);
  });

  it.each(['allowed.test', 'allowed.test:', 'allowed.test:0', 'allowed.test:65536', '::1:443', 'allowed.test/x:443', 'evil.test@allowed.test:443'])(
    'refuses the malformed target %s with 400',
    async (target) => {
      const { h } = await setup(allowLoopback);
      const reply = await rawRequest(h.port, `CONNECT ${target} HTTP/1.1\r\n\r\n`);
      expect(reply.status).toBe(400);
      expect(h.resolverCalls).toEqual([]);
      expect(h.decisions()).toMatchObject([{ method: 'CONNECT', decision: 'deny' }]);
    },
  );
});

describe('CONNECT refused after resolving', () => {
  it('refuses a name that resolves to loopback without an address entry', async () => {
    const { upstream, h } = await setup((port) => [`allowed.test:${port}`]);
    const reply = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    expect(reply.status).toBe(403);
    expect((await reply.closed).toString()).not.toContain('127.0.0.1'); // details stay in the log
    expect(h.resolverCalls).toEqual(['allowed.test']);
    expect(h.connectCalls).toEqual([]);
    expect(h.decisions()).toMatchObject([
      { decision: 'deny', rule: `allowed.test:${upstream.port}`, resolved: ['127.0.0.1'], reason: expect.stringContaining('allowed.test resolves to 127.0.0.1 is loopback') },
    ]);
  });

  it('refuses when any one address is private, even if another is public', async () => {
    const { upstream, h } = await setup((port) => [`allowed.test:${port}`], { names: { 'allowed.test': ['93.184.216.34', '10.0.0.7'] } });
    const reply = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    expect(reply.status).toBe(403);
    expect(h.connectCalls).toEqual([]);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', resolved: ['93.184.216.34', '10.0.0.7'], reason: expect.stringContaining('10.0.0.7 is private') }]);
  });

  it('refuses metadata addresses reached through an IPv4-mapped answer', async () => {
    const { upstream, h } = await setup((port) => [`allowed.test:${port}`, '169.254.0.0/16'], { names: { 'allowed.test': ['::ffff:169.254.169.254'] } });
    const reply = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    expect(reply.status).toBe(403);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', resolved: ['169.254.169.254'], reason: expect.stringContaining('metadata') }]);
  });

  it('answers 502 when the name does not resolve, or resolves to something that is not an address', async () => {
    const { upstream, h } = await setup((port) => [`allowed.test:${port}`, `odd.test:${port}`, `none.test:${port}`, '127.0.0.0/8'], {
      names: { 'odd.test': ['127.0.0.1', 'evil.test'], 'none.test': [] },
    });
    for (const name of ['gone.test', 'odd.test', 'none.test']) {
      const reply = await rawRequest(h.port, connectRequest(`${name}:${upstream.port}`));
      // gone.test is not in the policy at all, so it is refused before resolving
      expect(reply.status).toBe(name === 'gone.test' ? 403 : 502);
    }
    expect(h.resolverCalls).toEqual(['odd.test', 'none.test']);
    expect(h.connectCalls).toEqual([]);
    expect(h.decisions().map((d) => d.decision)).toEqual(['deny', 'deny', 'deny']);
  });

  it('answers 502 when the upstream refuses the connection', async () => {
    const { upstream, h } = await setup(allowLoopback);
    await upstream.close();
    const reply = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    expect(reply.status).toBe(502);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', reason: expect.stringContaining('could not connect') }]);
  });
});

describe('CONNECT cut off by its ClientHello', () => {
  async function afterHandshake(firstBytes: Buffer | null, helloTimeoutMs?: number) {
    const { upstream, h } = await setup(allowLoopback, { helloTimeoutMs });
    const tunnel = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    expect(tunnel.status).toBe(200);
    if (firstBytes) tunnel.socket.write(firstBytes);
    const after = await tunnel.closed;
    await sleep(20);
    return { after, upstream, h };
  }

  it('closes a tunnel whose ClientHello names another host', async () => {
    const { after, upstream, h } = await afterHandshake(await captureClientHello('evil.test'));
    expect(after.length).toBe(0);
    expect(upstream.received().length).toBe(0);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', host: 'allowed.test', reason: 'ClientHello names evil.test, not allowed.test' }]);
  });

  it('closes a tunnel whose ClientHello names a lookalike', async () => {
    const { upstream, h } = await afterHandshake(inRecords(clientHelloMessage({ serverNames: ['allowed.test.evil.test'] })));
    expect(upstream.received().length).toBe(0);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', reason: 'ClientHello names allowed.test.evil.test, not allowed.test' }]);
  });

  it('closes a tunnel whose ClientHello has no server name', async () => {
    const { upstream, h } = await afterHandshake(await captureClientHello());
    expect(upstream.received().length).toBe(0);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', reason: 'ClientHello has no server name (SNI); allowed.test requires one' }]);
  });

  it('closes a tunnel that starts with something other than TLS', async () => {
    const { upstream, h } = await afterHandshake(Buffer.from('GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n'));
    expect(upstream.received().length).toBe(0);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', reason: 'not a valid TLS ClientHello: not a TLS handshake record' }]);
  });

  it('closes a tunnel whose client sends nothing in time', async () => {
    const { upstream, h } = await afterHandshake(null, 150);
    expect(upstream.received().length).toBe(0);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', reason: 'no whole ClientHello within 150 ms' }]);
  });
});

describe('reload', () => {
  it('applies a new policy to the next connection', async () => {
    const { upstream, h } = await setup(() => []);
    const hello = await captureClientHello('allowed.test');
    expect((await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`))).status).toBe(403);

    h.proxy.reload(parsePolicy(allowLoopback(upstream.port)).policy);
    const tunnel = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    expect(tunnel.status).toBe(200);
    tunnel.socket.write(hello);
    expect((await tunnel.bytes(4)).toString()).toBe('pong');

    // The open tunnel is one the new policy refuses: closed at the reload, and logged.
    expect(h.proxy.reload(parsePolicy([]).policy)).toEqual({ kept: 0, closed: 1 });
    await tunnel.closed;
    expect((await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`))).status).toBe(403);
    expect(h.decisions().map((d) => d.decision)).toEqual(['deny', 'allow', 'deny', 'deny']);
    expect(h.decisions()[2]?.reason).toBe(`closed on policy reload: no rule matches allowed.test`);
  });
});

describe('CONNECT half-close', () => {
  /** Large enough that a tunnel torn down at the first FIN would cut it short. */
  const BIG = Buffer.alloc(4 * 1024 * 1024, 'x');

  async function eofSetup(allow: (port: number) => string[], portMap?: (port: number) => Record<number, number>) {
    const upstream = await startAnswerAtEofServer((received) => Buffer.concat([Buffer.from(`got ${received.length}\n`), BIG]));
    cleanups.push(upstream.close);
    const h = await startProxy({ allow: allow(upstream.port), portMap: portMap?.(upstream.port) });
    cleanups.push(h.close);
    return { upstream, h };
  }

  it('passes a client half-close upstream and still delivers the whole answer (port 80, no ClientHello)', async () => {
    const { upstream, h } = await eofSetup(
      () => ['allowed.test', '127.0.0.0/8'],
      (port) => ({ 80: port }),
    );
    const tunnel = await rawRequest(h.port, connectRequest('allowed.test:80'));
    expect(tunnel.status).toBe(200);
    const request = 'GET / HTTP/1.0\r\nHost: allowed.test\r\n\r\n';
    tunnel.socket.end(request);
    // A slow reader: the answer piles up in the proxy while the upstream has long finished.
    tunnel.socket.pause();
    await sleep(300);
    tunnel.socket.resume();
    const answer = await tunnel.closed;
    expect(upstream.sawEnd()).toBe(true);
    expect(upstream.received().toString()).toBe(request);
    const first = `got ${request.length}\n`;
    expect(answer.subarray(0, first.length).toString()).toBe(first);
    expect(answer.length).toBe(first.length + BIG.length);
    expect(h.decisions()).toMatchObject([{ decision: 'allow', port: 80 }]);
  });

  it('passes a client half-close upstream and still delivers the whole answer (after a ClientHello)', async () => {
    const { upstream, h } = await eofSetup(allowLoopback);
    const hello = await captureClientHello('allowed.test');
    const tunnel = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    expect(tunnel.status).toBe(200);
    tunnel.socket.end(Buffer.concat([hello, Buffer.from('request')]));
    const answer = await tunnel.closed;
    expect(upstream.received()).toEqual(Buffer.concat([hello, Buffer.from('request')]));
    const first = `got ${hello.length + 'request'.length}\n`;
    expect(answer.subarray(0, first.length).toString()).toBe(first);
    expect(answer.length).toBe(first.length + BIG.length);
    expect(h.decisions()).toMatchObject([{ decision: 'allow' }]);
  });

  it('tunnels a request sent with the CONNECT in one write and then half-closed', async () => {
    const { upstream, h } = await eofSetup(
      () => ['allowed.test', '127.0.0.0/8'],
      (port) => ({ 80: port }),
    );
    const request = 'GET / HTTP/1.0\r\nHost: allowed.test\r\n\r\n';
    const tunnel = await rawRequest(h.port, connectRequest('allowed.test:80') + request, { endAfterWrite: true });
    expect(tunnel.status).toBe(200);
    const answer = await tunnel.closed;
    expect(upstream.received().toString()).toBe(request);
    expect(answer.length).toBe(`got ${request.length}\n`.length + BIG.length);
    expect(h.decisions()).toMatchObject([{ decision: 'allow', port: 80 }]);
  });

  it('still ends the tunnel both ways on a full close by the client', async () => {
    const { upstream, h } = await setup(allowLoopback);
    const hello = await captureClientHello('allowed.test');
    const tunnel = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    tunnel.socket.write(hello);
    expect((await tunnel.bytes(4)).toString()).toBe('pong');
    tunnel.socket.destroy();
    await waitFor(() => upstream.open() === 0);
    expect(upstream.connections()).toBe(1);
    expect(h.decisions()).toMatchObject([{ decision: 'allow' }]);
  });

  it('still ends the tunnel both ways on a full close by the upstream', async () => {
    const { upstream, h } = await setup(allowLoopback);
    const hello = await captureClientHello('allowed.test');
    const tunnel = await rawRequest(h.port, connectRequest(`allowed.test:${upstream.port}`));
    tunnel.socket.write(hello);
    expect((await tunnel.bytes(4)).toString()).toBe('pong');
    upstream.dropConnections();
    expect((await tunnel.closed).toString()).toBe('pong');
    expect(h.decisions()).toMatchObject([{ decision: 'allow' }]);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
