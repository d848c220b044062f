// Absolute-form http:// requests end to end on 127.0.0.1: forwarded to the checked address with a
// Host header the proxy builds, hop-by-hop and Proxy-* headers stripped both ways.
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest, startHttpUpstream, startProxy, type Harness } from './proxy-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(allow: (upstreamPort: number) => string[], names?: Record<string, string[]>) {
  const upstream = await startHttpUpstream();
  cleanups.push(upstream.close);
  const h: Harness = await startProxy({ allow: allow(upstream.port), names });
  cleanups.push(h.close);
  return { upstream, h };
}

/** Sends one request through the proxy the way an HTTP_PROXY client does. */
function viaProxy(proxyPort: number, method: string, url: string, headers: OutgoingHttpHeaders = {}, body?: string) {
  return new Promise<{ status: number; message: string; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: proxyPort, method, path: url, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, message: res.statusMessage ?? '', headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('plain HTTP forwarding', () => {
  it('forwards a GET to the checked address and streams the response back', async () => {
    const { upstream, h } = await setup((port) => [`allowed.test:${port}`, '127.0.0.0/8']);
    const res = await viaProxy(h.port, 'GET', `http://allowed.test:${upstream.port}/path?q=1`, {
      host: 'evil.test',
      'proxy-authorization': 'Basic c2VjcmV0',
      'proxy-connection': 'keep-alive',
      connection: 'close, x-drop',
      'x-drop': 'hop',
      'x-keep': 'end-to-end',
    });

    expect(res).toMatchObject({ status: 201, message: 'Made', body: 'hello from upstream' });
    expect(res.headers['x-upstream']).toBe('yes');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    for (const name of ['keep-alive', 'proxy-authenticate', 'x-secret']) expect(res.headers).not.toHaveProperty(name);

    expect(upstream.requests).toHaveLength(1);
    const seen = upstream.requests[0]!;
    expect(seen).toMatchObject({ method: 'GET', url: '/path?q=1' });
    expect(seen.headers.host).toBe(`allowed.test:${upstream.port}`);
    expect(seen.headers['x-keep']).toBe('end-to-end');
    for (const name of ['proxy-authorization', 'proxy-connection', 'x-drop']) expect(seen.headers).not.toHaveProperty(name);

    expect(h.connectCalls).toEqual([{ address: '127.0.0.1', port: upstream.port }]);
    expect(h.decisions()).toMatchObject([{ method: 'GET', host: 'allowed.test', port: upstream.port, decision: 'allow', rule: `allowed.test:${upstream.port}`, resolved: ['127.0.0.1'] }]);
  });

  it('forwards request bodies, fixed-length and chunked', async () => {
    const { upstream, h } = await setup((port) => [`allowed.test:${port}`, '127.0.0.0/8']);
    await viaProxy(h.port, 'POST', `http://allowed.test:${upstream.port}/a`, { 'content-type': 'text/plain' }, 'fixed body');
    await viaProxy(h.port, 'PUT', `http://allowed.test:${upstream.port}/b`, { 'transfer-encoding': 'chunked' }, 'chunked body');
    expect(upstream.requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/a', 'fixed body'],
      ['PUT', '/b', 'chunked body'],
    ]);
    expect(h.decisions().map((d) => d.decision)).toEqual(['allow', 'allow']);
  });

  it('refuses a denied name with 403 without resolving it', async () => {
    const { upstream, h } = await setup((port) => [`allowed.test:${port}`, '127.0.0.0/8'], { 'allowed.test': ['127.0.0.1'], 'evilallowed.test': ['127.0.0.1'] });
    const res = await viaProxy(h.port, 'GET', `http://evilallowed.test:${upstream.port}/`);
    expect(res.status).toBe(403);
    expect(res.body).toBe(
      `SandboxShift egress: evilallowed.test:${upstream.port} is not allowed by this environment's egress policy\nto allow it, add 'evilallowed.test:${upstream.port}' to this environment's egress.allow in sandboxshift.yaml, then run sandboxshift apply\n`,
    );
    expect(upstream.requests).toEqual([]);
    expect(h.resolverCalls).toEqual([]);
    expect(h.decisions()).toMatchObject([{ method: 'GET', host: 'evilallowed.test', decision: 'deny', reason: 'no rule matches evilallowed.test' }]);
  });

  it('uses port 80 when the URL has none', async () => {
    const { h } = await setup((port) => [`allowed.test:${port}`]);
    const res = await viaProxy(h.port, 'GET', 'http://allowed.test/');
    expect(res.status).toBe(403);
    expect(res.body).toContain("to allow it, add 'allowed.test' to this environment's egress.allow");
    expect(h.decisions()).toMatchObject([{ port: 80, decision: 'deny', reason: expect.stringContaining('port 80 is not allowed') }]);
  });

  it('refuses a name resolving to a private address without an address entry', async () => {
    const { upstream, h } = await setup((port) => [`allowed.test:${port}`]);
    const res = await viaProxy(h.port, 'GET', `http://allowed.test:${upstream.port}/`);
    expect(res.status).toBe(403);
    expect(res.body).toContain('allowed.test resolves to a loopback, private or reserved address: only an address entry (CIDR) in egress.allow can open it');
    expect(res.body).not.toContain('127.0.0.1');
    expect(upstream.requests).toEqual([]);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', resolved: ['127.0.0.1'], reason: expect.stringContaining('loopback') }]);
  });
});

describe('requests that are not proxied', () => {
  it.each([
    ['origin-form', 'GET /path HTTP/1.1\r\nHost: allowed.test\r\n\r\n', 400],
    ['https:// absolute-form', 'GET https://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n', 400],
    ['userinfo in the URL', 'GET http://evil.test@allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n', 400],
    ['a backslash in the authority', 'GET http://evil.test\\@allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n', 400],
    ['TRACE', 'TRACE http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n', 405],
    ['an upgrade', 'GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 405],
  ])('refuses %s', async (_name, raw, status) => {
    const { upstream, h } = await setup(() => ['allowed.test', '127.0.0.0/8']);
    const reply = await rawRequest(h.port, raw);
    expect(reply.status).toBe(status);
    await reply.closed;
    expect(upstream.requests).toEqual([]);
    expect(h.resolverCalls).toEqual([]);
    expect(h.decisions()).toMatchObject([{ decision: 'deny' }]);
  });

  it('logs malformed HTTP as a denial', async () => {
    const { h } = await setup(() => ['allowed.test']);
    const reply = await rawRequest(h.port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(reply.status).toBe(400);
    expect(h.decisions()).toMatchObject([{ decision: 'deny', reason: expect.stringContaining('malformed request') }]);
  });
});

describe('a client that half-closes after its request', () => {
  it('still gets the whole answer to a GET', async () => {
    const { upstream, h } = await setup((port) => [`allowed.test:${port}`, '127.0.0.0/8']);
    const reply = await rawRequest(h.port, `GET http://allowed.test:${upstream.port}/half HTTP/1.1\r\nHost: allowed.test\r\n\r\n`, { endAfterWrite: true });
    expect(reply.status).toBe(201);
    expect(reply.head).toContain('x-upstream: yes');
    expect((await reply.closed).toString()).toContain('hello from upstream');
    expect(upstream.requests.map((r) => [r.method, r.url])).toEqual([['GET', '/half']]);
    expect(h.decisions()).toMatchObject([{ decision: 'allow' }]);
  });

  it('still forwards its body and gets the whole answer to a POST', async () => {
    const { upstream, h } = await setup((port) => [`allowed.test:${port}`, '127.0.0.0/8']);
    const raw = `POST http://allowed.test:${upstream.port}/form HTTP/1.0\r\nHost: allowed.test\r\nContent-Length: 9\r\n\r\nname=half`;
    const reply = await rawRequest(h.port, raw, { endAfterWrite: true });
    expect(reply.status).toBe(201);
    expect((await reply.closed).toString()).toContain('hello from upstream');
    expect(upstream.requests.map((r) => [r.method, r.url, r.body])).toEqual([['POST', '/form', 'name=half']]);
    expect(h.decisions()).toMatchObject([{ decision: 'allow' }]);
  });

  it('closes an idle connection whose client half-closes before sending anything', async () => {
    const { h } = await setup(() => ['allowed.test']);
    const socket = connect(h.port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => socket.destroy());
    socket.end();
    await closed;
    expect(h.decisions()).toEqual([]);
  });
});
