// A proxy on 127.0.0.1 with a fake resolver and a connector that records where the proxy connects
// (and refuses anything off loopback, so a broken guard cannot reach the network), plus the
// loopback servers and raw clients the proxy tests talk through.

import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { createEgressProxy, parsePolicy, tcpConnector, type EgressProxy } from '../../../src/egress/index.js';

export interface Harness {
  proxy: EgressProxy;
  port: number;
  lines: string[];
  decisions(): Array<Record<string, unknown>>;
  resolverCalls: string[];
  connectCalls: Array<{ address: string; port: number }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  allow: string[];
  /** Fake DNS. Names not listed fail to resolve. */
  names?: Record<string, string[]>;
  /** Ports the connector rewrites (e.g. 80 to a test server), since tests cannot bind 80. */
  portMap?: Record<number, number>;
  helloTimeoutMs?: number;
}

export async function startProxy(options: HarnessOptions): Promise<Harness> {
  const lines: string[] = [];
  const resolverCalls: string[] = [];
  const connectCalls: Array<{ address: string; port: number }> = [];
  const names = options.names ?? { 'allowed.test': ['127.0.0.1'] };
  const { policy, problems } = parsePolicy(options.allow);
  if (problems.length > 0) throw new Error(`bad test policy: ${JSON.stringify(problems)}`);
  const proxy = createEgressProxy({
    policy,
    log: (line) => lines.push(line),
    connectTimeoutMs: 2000,
    helloTimeoutMs: options.helloTimeoutMs ?? 2000,
    resolve: async (name) => {
      resolverCalls.push(name);
      const answer = names[name];
      if (!answer) throw new Error(`getaddrinfo ENOTFOUND ${name}`);
      return answer;
    },
    connect: async (address, port, timeoutMs) => {
      connectCalls.push({ address, port });
      if (!address.startsWith('127.')) throw new Error(`test connector refuses ${address}: loopback only`);
      return tcpConnector(address, options.portMap?.[port] ?? port, timeoutMs);
    },
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    proxy,
    port: (proxy.address() as AddressInfo).port,
    lines,
    decisions: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    resolverCalls,
    connectCalls,
    close: () => proxy.shutdown(),
  };
}

/** A raw TCP server that records what each connection sends, and answers `reply` to the first bytes. */
export async function startRecordingServer(reply?: Buffer) {
  let received = Buffer.alloc(0);
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let replied = false;
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (reply && !replied) {
        replied = true;
        socket.write(reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received: () => received,
    connections: () => connections,
    /** Connections not yet closed. */
    open: () => sockets.size,
    /** Closes every accepted connection (a full close from the upstream), keeps listening. */
    dropConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP server that records requests and answers with fixed headers and body. */
export async function startHttpUpstream() {
  const requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: string }> = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(201, 'Made', {
        'x-upstream': 'yes',
        'keep-alive': 'timeout=5',
        'proxy-authenticate': 'Basic realm="upstream"',
        connection: 'x-secret',
        'x-secret': 'hop-by-hop',
        'set-cookie': ['a=1', 'b=2'],
      });
      res.end('hello from upstream');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawExchange {
  socket: Socket;
  /** The response head, up to the blank line. */
  head: string;
  status: number;
  /** Resolves with every byte after the head once the proxy closes the connection. */
  closed: Promise<Buffer>;
  /** Resolves with bytes after the head as soon as at least `n` have arrived. */
  bytes(n: number): Promise<Buffer>;
}

/**
 * Sends `request` raw to the proxy and reads the response head. With `endAfterWrite`, the client
 * then shuts down its sending side (a half-close, as `printf ... | nc` does) and keeps reading.
 */
export async function rawRequest(proxyPort: number, request: string, options: { endAfterWrite?: boolean } = {}): Promise<RawExchange> {
  const socket = connect(proxyPort, '127.0.0.1');
  socket.on('error', () => socket.destroy());
  let all = Buffer.alloc(0);
  const waiters: Array<() => void> = [];
  socket.on('data', (chunk: Buffer) => {
    all = Buffer.concat([all, chunk]);
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  if (options.endAfterWrite) socket.end(request);
  else socket.write(request);

  const headEnd = () => all.indexOf('\r\n\r\n');
  await Promise.race([
    new Promise<void>((resolve) => {
      const check = () => (headEnd() >= 0 ? resolve() : waiters.push(check));
      check();
    }),
    closed,
  ]);
  if (headEnd() < 0) throw new Error(`proxy closed without a response: ${JSON.stringify(all.toString('latin1'))}`);
  const head = all.subarray(0, headEnd()).toString('latin1');
  const after = () => all.subarray(headEnd() + 4);
  return {
    socket,
    head,
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]),
    closed: closed.then(after),
    bytes: (n) =>
      new Promise<Buffer>((resolve, reject) => {
        const check = () => (after().length >= n ? resolve(after()) : waiters.push(check));
        void closed.then(() => reject(new Error(`closed after ${after().length} of ${n} bytes`)));
        check();
      }),
  };
}

export const connectRequest = (target: string) => `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A raw TCP server that answers only once the client has finished sending (its FIN arrived), the
 * way a server reading a request "until EOF" does, and then closes. Records when each side ended.
 */
export async function startAnswerAtEofServer(answer: (received: Buffer) => Buffer) {
  let received = Buffer.alloc(0);
  let sawEnd = false;
  let sawClose = false;
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    socket.on('end', () => {
      sawEnd = true;
      // Answer a little later, so a proxy that closed on the half-close has had time to do so.
      setTimeout(() => socket.end(answer(received)), 30);
    });
    socket.on('close', () => (sawClose = true));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received: () => received,
    sawEnd: () => sawEnd,
    sawClose: () => sawClose,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
