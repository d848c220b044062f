// What each request handler gets from the proxy: the policy as of this request, its tools, and a
// way to record the decision.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { decisionLine, type Decision } from './log-lines.js';
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
}

export function record(ctx: ProxyContext, decision: Decision): void {
  ctx.log(decisionLine(decision));
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
export function publicMessage(status: number, target: string): string {
  switch (status) {
    case 403:
      return `SandboxShift egress: ${target} is not allowed by this environment's egress policy\n`;
    case 405:
      return 'SandboxShift egress: only CONNECT and absolute-form http:// requests are proxied\n';
    case 502:
    case 504:
      return `SandboxShift egress: could not reach ${target}\n`;
    default:
      return 'SandboxShift egress: bad request\n';
  }
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
