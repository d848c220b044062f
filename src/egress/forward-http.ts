// Absolute-form requests (`GET http://host/path`): the same check as a tunnel, then the request is
// sent to the checked address with a Host header built from the checked URL, so a client cannot
// aim a permitted connection at another virtual host with its own Host header.

import { request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { checkDestination } from './destination.js';
import { hostText, parseAuthority } from './host-name.js';
import { stripHopByHop } from './hop-by-hop.js';
import { clip, errorMessage, type Decision } from './log-lines.js';
import { clientOf, publicMessage, record, refusalHint, refusedSinceCheck, type ProxyContext } from './proxy-context.js';
import { TimeoutError } from './resolver.js';
import { connectFirst } from './upstream.js';

/** Methods forwarded; TRACE and CONNECT-like oddities are not. */
export const FORWARDED_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const ABSOLUTE_HTTP = /^http:\/\/([^/?#]*)([^#]*)/i;
/** What an authority may hold. No userinfo (`@`), no backslashes, no percent-escapes. */
const AUTHORITY = /^[A-Za-z0-9._\-:[\]]+$/;

export async function handleForward(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const policy = ctx.policy();
  const method = req.method ?? '';
  const base = { client: clientOf(req), method: clip(method, 16) };
  const refuse = (status: number, decision: Omit<Decision, 'client' | 'method' | 'decision'>, target = '') => {
    record(ctx, { ...base, ...decision, decision: 'deny' });
    const hint = status === 403 && decision.host && decision.port ? refusalHint(decision.host, decision.port, decision.resolved) : '';
    respond(res, status, publicMessage(status, target, hint), status === 405 ? { allow: [...FORWARDED_METHODS, 'CONNECT'].join(', ') } : {});
  };

  const url = req.url ?? '';
  if (!FORWARDED_METHODS.has(method)) return refuse(405, { host: null, port: null, reason: `method ${clip(method, 16)} is not proxied` });
  if (req.headers.upgrade !== undefined) return refuse(405, { host: null, port: null, reason: 'protocol upgrades are not proxied; use CONNECT' });
  const parts = ABSOLUTE_HTTP.exec(url);
  if (!parts) return refuse(400, { host: null, port: null, reason: `request target is not an absolute http:// URL: ${clip(url, 64)}` });
  const authority = parts[1] ?? '';
  const target = AUTHORITY.test(authority) ? parseAuthority(authority, 80) : null;
  if (!target) return refuse(400, { host: clip(authority), port: null, reason: 'URL authority is not host[:port]' });
  const rawPath = parts[2] ?? '';
  const path = rawPath === '' ? '/' : rawPath.startsWith('/') ? rawPath : `/${rawPath}`;

  const check = await checkDestination(policy, target.host, target.port, ctx.resolve, ctx.connectTimeoutMs);
  const host = check.host ? hostText(check.host) : clip(target.host);
  const shown = `${host}:${target.port}`;
  if (!check.ok) return refuse(check.status, { host, port: target.port, rule: check.rule, reason: check.reason, resolved: check.resolved }, shown);
  const deny = (status: number, reason: string) => refuse(status, { host, port: target.port, rule: check.rule, reason, resolved: check.resolved }, shown);

  let upstream: Socket;
  let address: string;
  try {
    ({ socket: upstream, address } = await connectFirst(ctx.connect, check.addresses, target.port, ctx.connectTimeoutMs));
  } catch (error) {
    return deny(error instanceof TimeoutError ? 504 : 502, `could not connect: ${errorMessage(error)}`);
  }
  if (res.destroyed) {
    upstream.destroy();
    record(ctx, { ...base, host, port: target.port, decision: 'deny', rule: check.rule, reason: 'client went away while connecting', resolved: check.resolved });
    return;
  }

  const headers = stripHopByHop(req.headers);
  headers.host = target.port === 80 ? host : shown;
  // The body is re-framed by Node; a chunked request body needs chunked framing upstream as well.
  if (req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = 'chunked';
  let outgoing: ClientRequest;
  try {
    outgoing = request({ method, path, headers, createConnection: () => upstream });
  } catch (error) {
    upstream.destroy();
    return deny(400, `request could not be forwarded: ${errorMessage(error)}`);
  }

  // The policy may have been reloaded while this request resolved and connected.
  const reached = { host: check.host, port: target.port, address };
  const refused = refusedSinceCheck(ctx, policy, reached);
  if (refused !== null) {
    outgoing.destroy();
    upstream.destroy();
    return deny(403, `closed on policy reload: ${refused}`);
  }

  record(ctx, { ...base, host, port: target.port, decision: 'allow', rule: check.rule, reason: `${check.reason}; connected to ${address}`, resolved: check.resolved });
  const traffic = ctx.connections.add({ client: base.client, method: base.method, ...reached, rule: check.rule }, () => {
    res.destroy();
    upstream.destroy();
  });
  res.once('close', () => traffic.release());
  req.on('data', (chunk: Buffer) => traffic.up(chunk.length));
  outgoing.on('response', (incoming) => {
    res.writeHead(incoming.statusCode ?? 502, incoming.statusMessage, stripHopByHop(incoming.headers));
    incoming.on('data', (chunk: Buffer) => traffic.down(chunk.length));
    incoming.pipe(res);
    incoming.on('error', () => res.destroy());
  });
  outgoing.on('error', (error) => {
    // After the allow, a failing upstream is reported to the client as a broken response, not logged again.
    if (res.headersSent) res.destroy(error);
    else respond(res, 502, publicMessage(502, shown));
  });
  res.on('close', () => outgoing.destroy());
  req.pipe(outgoing);
}

function respond(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close', ...headers });
  res.end(body);
}
