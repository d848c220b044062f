// What each request handler gets from the proxy: the policy as of this request, its tools, and a
// way to record the decision.

import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { decisionLine, type Decision } from './log-lines.js';
import { refusalUnder, type ConnectionRegistry, type OpenConnection } from './connections.js';
import type { EgressPolicy } from './policy.js';
import type { Resolver } from './resolver.js';
import type { Connector } from './upstream.js';

export interface ProxyContext {
  /** The current policy. Handlers read it once, so a reload never changes a decision halfway. */
  policy(): EgressPolicy;
  resolve: Resolver;
  connect: Connector;
  connectTimeoutMs: number;
  helloTimeoutMs: number;
  log(line: string): void;
  /** Every allowed connection while it is open. */
  connections: ConnectionRegistry;
  /** Told of every decision (the live figures count them). */
  decided?(decision: Decision['decision']): void;
}

/**
 * Why the policy now in force refuses what a request reached, when it was reloaded since the
 * request was checked under `checkedUnder` (while it resolved, connected or awaited its
 * ClientHello); null when it still allows it or nothing was reloaded.
 */
export function refusedSinceCheck(ctx: ProxyContext, checkedUnder: EgressPolicy, reached: Pick<OpenConnection, 'host' | 'port' | 'address'>): string | null {
  const now = ctx.policy();
  return now === checkedUnder ? null : refusalUnder(now, reached);
}

export function record(ctx: ProxyContext, decision: Decision): void {
  ctx.log(decisionLine(decision));
  ctx.decided?.(decision.decision);
}

export function clientOf(req: IncomingMessage): string {
  const { remoteAddress, remotePort } = req.socket;
  return remoteAddress === undefined ? 'unknown' : `${remoteAddress}:${remotePort ?? 0}`;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
};

/** What the sandbox is told. Details (resolved addresses, rules) stay in the proxy's log. */
export function publicMessage(status: number, target: string, hint = ''): string {
  switch (status) {
    case 403:
      return `SandboxShift egress: ${target} is not allowed by this environment's egress policy\n${hint ? `${hint}\n` : ''}`;
    case 405:
      return 'SandboxShift egress: only CONNECT and absolute-form http:// requests are proxied\n';
    case 502:
    case 504:
      return `SandboxShift egress: could not reach ${target}\n`;
    default:
      return 'SandboxShift egress: bad request\n';
  }
}

/**
 * What the person reading a refusal can do about it: the entry to add to the allow list (a name
 * on 443/80, host:port on another port, an address as /32 or /128), or, when the name is allowed
 * but resolves to a guarded address, that only an address entry opens it.
 */
export function refusalHint(host: string, port: number, resolved: readonly string[] | undefined): string {
  if (resolved && resolved.length > 0) {
    // The addresses stay in the decision log: the sandbox is not told what lies behind a name.
    return `${host} resolves to a loopback, private or reserved address: only an address entry (CIDR) in egress.allow can open it`;
  }
  const ip = isIP(host.replace(/^\[|\]$/g, ''));
  const entry = ip === 4 ? `${host}/32` : ip === 6 ? `${host.replace(/^\[|\]$/g, '')}/128` : port === 443 || port === 80 ? host : `${host}:${port}`;
  return `to allow it, add '${entry}' to this environment's egress.allow in sandboxshift.yaml, then run sandboxshift apply`;
}

/** Answers on a raw socket (CONNECT and upgrade requests, where there is no ServerResponse) and closes it. */
export function refuseSocket(socket: Duplex, status: number, body: string, extraHeaders: string[] = []): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const head = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`, 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', ...extraHeaders];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}
