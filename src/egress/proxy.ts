// The egress proxy: a sandbox's only way out. An HTTP server that answers CONNECT with checked
// tunnels, forwards absolute-form http:// requests, and refuses everything else. Any error on a
// path ends in a refusal or a closed socket, never in bytes sent somewhere unchecked.

import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { handleConnect } from './connect-tunnel.js';
import { ConnectionRegistry, type ConnectionEvents } from './connections.js';
import { handleForward } from './forward-http.js';
import { hostText } from './host-name.js';
import { clip, errorMessage } from './log-lines.js';
import type { EgressPolicy } from './policy.js';
import { clientOf, publicMessage, record, refuseSocket, type ProxyContext } from './proxy-context.js';
import { cachingResolver, systemResolver, type Resolver } from './resolver.js';
import { tcpConnector, type Connector } from './upstream.js';

export interface EgressProxyOptions {
  policy: EgressPolicy;
  /** Defaults to the system resolver (dns.promises.lookup, all addresses), answers kept 5 s. */
  resolve?: Resolver;
  /** Defaults to a TCP connection to the checked address. */
  connect?: Connector;
  /** One JSON line per decision. */
  log: (line: string) => void;
  /** Limit for resolving a name, and for each connection attempt upstream. */
  connectTimeoutMs: number;
  /** How long a tunnel client has to send its ClientHello. Default 10 s. */
  helloTimeoutMs?: number;
  /** Told when connections open and close, bytes move, and decisions are made (live figures). */
  events?: ConnectionEvents & { decision(decision: 'allow' | 'deny'): void; waiting?(delta: 1 | -1): void };
}

export interface ReloadResult {
  /** Open connections the new policy still allows: left running. */
  kept: number;
  /** Open connections it no longer allows: closed and logged. */
  closed: number;
}

export interface EgressProxy extends Server {
  /**
   * Swaps the policy for requests that arrive from now on, and asks every open connection
   * again: the ones the new policy refuses are closed, each logged as a deny decision whose
   * reason starts `closed on policy reload:`; the others go on untouched.
   */
  reload(policy: EgressPolicy): ReloadResult;
  /** The connections open now. */
  readonly openConnections: ConnectionRegistry;
  currentPolicy(): EgressPolicy;
  /** Stops listening and drops every open connection, tunnels included. */
  shutdown(): Promise<void>;
}

/** How long a name's addresses are reused: long enough for a burst of connections, short for DNS changes. */
const DNS_CACHE_MS = 5000;

export function createEgressProxy(options: EgressProxyOptions): EgressProxy {
  let policy = options.policy;
  const connections = new ConnectionRegistry(options.events);
  const events = options.events;
  const resolve = options.resolve ?? cachingResolver(systemResolver, DNS_CACHE_MS);
  const connect = options.connect ?? tcpConnector;
  const ctx: ProxyContext = {
    policy: () => policy,
    resolve: events?.waiting ? (name) => whileWaiting(events, resolve(name)) : resolve,
    connect: events?.waiting ? (address, port, timeoutMs) => whileWaiting(events, connect(address, port, timeoutMs)) : connect,
    connectTimeoutMs: options.connectTimeoutMs,
    helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
    log: options.log,
    connections,
    decided: events ? (decision) => events.decision(decision) : undefined,
  };
  // The proxy never reads Host on CONNECT, so a client that leaves it out is not refused for it.
  const server = createServer({ requireHostHeader: false });
  // A client that shuts down its sending side after the request (busybox nc, some HTTP clients)
  // still waits for the answer: a half-close is not a close. Without this Node aborts the request
  // and ends the socket at the client's FIN; with it, the socket ends after the last response.
  // (Node has no createServer option for it; its http server reads this property at the FIN.)
  (server as typeof server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  const sockets = new Set<Socket>();

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('connect', (req, socket: Duplex, head: Buffer) => {
    handleConnect(ctx, req, socket, head).catch((error: unknown) => {
      socket.destroy();
      record(ctx, { client: clientOf(req), method: 'CONNECT', host: clip(req.url ?? ''), port: null, decision: 'deny', reason: `internal error: ${errorMessage(error)}` });
    });
  });
  server.on('request', (req, res) => {
    handleForward(ctx, req, res).catch((error: unknown) => {
      res.destroy();
      record(ctx, { client: clientOf(req), method: clip(req.method ?? '', 16), host: null, port: null, decision: 'deny', reason: `internal error: ${errorMessage(error)}` });
    });
  });
  // Node hands requests with an Upgrade header here when there is a listener; they are refused
  // like any other upgrade (handleForward refuses them too, for versions that do not).
  server.on('upgrade', (req, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    record(ctx, { client: clientOf(req), method: clip(req.method ?? '', 16), host: null, port: null, decision: 'deny', reason: 'protocol upgrades are not proxied; use CONNECT' });
    refuseSocket(socket, 405, publicMessage(405, ''));
  });
  server.on('clientError', (error: Error, socket: Duplex) => {
    const remote = socket as Partial<Socket>;
    const client = remote.remoteAddress === undefined ? 'unknown' : `${remote.remoteAddress}:${remote.remotePort ?? 0}`;
    // A reset before a request is not a decision; a malformed request is.
    if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') {
      record(ctx, { client, method: '', host: null, port: null, decision: 'deny', reason: `malformed request: ${clip(error.message, 120)}` });
    }
    refuseSocket(socket, 400, publicMessage(400, ''));
  });

  return Object.assign(server, {
    openConnections: connections,
    reload(next: EgressPolicy): ReloadResult {
      policy = next;
      const { kept, closed } = connections.enforce(next);
      for (const { connection: c, reason } of closed) {
        record(ctx, { client: c.client, method: c.method, host: hostText(c.host), port: c.port, decision: 'deny', rule: c.rule, reason: `closed on policy reload: ${reason}` });
      }
      return { kept, closed: closed.length };
    },
    currentPolicy: () => policy,
    shutdown: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        connections.closeAll();
        for (const socket of sockets) socket.destroy();
      }),
  });
}

/** Counts a request as waiting (an open connection, and activity) while the proxy resolves or connects for it. */
async function whileWaiting<T>(events: { waiting?(delta: 1 | -1): void }, work: Promise<T>): Promise<T> {
  events.waiting?.(1);
  try {
    return await work;
  } finally {
    events.waiting?.(-1);
  }
}
