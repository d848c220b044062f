// `CONNECT host:port`: check, connect to the checked address, answer 200, then, for anything but
// port 80, hold the client's bytes until its ClientHello names the host it asked for. Only then
// does anything flow. Every exit before the pipe closes both sides; once piped, each direction
// ends on its own (a client that half-closes after its request still gets the answer).

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { readClientHello } from './client-hello-reader.js';
import { checkDestination } from './destination.js';
import { hostText, normalizeHost, parseAuthority, sameHost, type Host } from './host-name.js';
import { clip, errorMessage, type Decision } from './log-lines.js';
import { clientOf, publicMessage, record, refusalHint, refusedSinceCheck, refuseSocket, type ProxyContext } from './proxy-context.js';
import { TimeoutError } from './resolver.js';
import { connectFirst } from './upstream.js';

/** Plain HTTP is the one protocol let through a tunnel without a ClientHello. */
const PLAIN_HTTP_PORT = 80;

export async function handleConnect(ctx: ProxyContext, req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
  const policy = ctx.policy();
  const base = { client: clientOf(req), method: 'CONNECT' };
  // The client may hang up at any point; its errors end the tunnel and nothing else.
  client.on('error', () => client.destroy());

  const target = parseAuthority(req.url ?? '');
  if (!target) {
    record(ctx, { ...base, host: clip(req.url ?? ''), port: null, decision: 'deny', reason: 'CONNECT target is not host:port' });
    refuseSocket(client, 400, publicMessage(400, ''));
    return;
  }
  const check = await checkDestination(policy, target.host, target.port, ctx.resolve, ctx.connectTimeoutMs);
  const shown = { ...base, host: check.host ? hostText(check.host) : clip(target.host), port: target.port };
  if (!check.ok) {
    record(ctx, { ...shown, decision: 'deny', rule: check.rule, reason: check.reason, resolved: check.resolved });
    refuseSocket(client, check.status, publicMessage(check.status, `${shown.host}:${target.port}`, refusalHint(shown.host, target.port, check.resolved)));
    return;
  }
  const deny = (reason: string): Decision => ({ ...shown, decision: 'deny', rule: check.rule, reason, resolved: check.resolved });

  let upstream: Socket;
  let address: string;
  try {
    ({ socket: upstream, address } = await connectFirst(ctx.connect, check.addresses, target.port, ctx.connectTimeoutMs));
  } catch (error) {
    const status = error instanceof TimeoutError ? 504 : 502;
    record(ctx, deny(`could not connect: ${errorMessage(error)}`));
    refuseSocket(client, status, publicMessage(status, `${shown.host}:${target.port}`));
    return;
  }
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  upstream.on('error', closeBoth);
  if (client.destroyed) {
    record(ctx, deny('client went away while connecting'));
    closeBoth();
    return;
  }

  // Small writes (the 200, handshake records) go out at once both ways; upstream is set on connect.
  (client as Partial<Socket>).setNoDelay?.(true);
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  let first = head;
  if (target.port !== PLAIN_HTTP_PORT) {
    const hello = await readClientHello(client, head, ctx.helloTimeoutMs);
    const problem = hello.ok ? serverNameProblem(hello.serverName, check.host) : hello.reason;
    if (problem !== null || !hello.ok) {
      record(ctx, deny(problem ?? 'no ClientHello'));
      closeBoth();
      return;
    }
    first = hello.bytes;
  }
  if (client.destroyed || upstream.destroyed) {
    record(ctx, deny('connection closed before the tunnel opened'));
    closeBoth();
    return;
  }

  // The policy may have been reloaded while this tunnel connected and waited for its ClientHello.
  const reached = { host: check.host, port: target.port, address };
  const refused = refusedSinceCheck(ctx, policy, reached);
  if (refused !== null) {
    record(ctx, deny(`closed on policy reload: ${refused}`));
    closeBoth();
    return;
  }

  record(ctx, { ...shown, decision: 'allow', rule: check.rule, reason: `${check.reason}; connected to ${address}`, resolved: check.resolved });
  const traffic = ctx.connections.add({ client: base.client, method: 'CONNECT', ...reached, rule: check.rule }, closeBoth);
  if (first.length > 0) {
    traffic.up(first.length);
    upstream.write(first);
  }
  let open = 2;
  const closed = () => {
    if (--open === 0) traffic.release();
  };
  client.once('close', closed);
  upstream.once('close', closed);
  joinHalves(client, upstream, traffic);
}

/**
 * Pipes each direction on its own. A half-close is not a close: when one side stops sending, its
 * FIN is passed on (pipe ends the other socket's writing side) and the other direction keeps
 * flowing. A socket that closes cleanly has both directions done, so the other is only finishing
 * its writes and is left to flush; one that closes any other way (reset, error, shutdown) takes
 * the other down with it.
 */
function joinHalves(client: Duplex, upstream: Duplex, traffic: { up(bytes: number): void; down(bytes: number): void }): void {
  client.allowHalfOpen = true;
  upstream.allowHalfOpen = true;
  const follow = (closed: Duplex, other: Duplex) => {
    closed.on('close', () => {
      const clean = closed.readableEnded && closed.writableFinished;
      if (!clean) other.destroy();
    });
  };
  follow(client, upstream);
  follow(upstream, client);
  forward(client, upstream, (n) => traffic.up(n));
  forward(upstream, client, (n) => traffic.down(n));
}

/**
 * How much may wait in a socket's send buffer before its source is paused. Node's default
 * (16 KiB, what pipe() honours) is smaller than one 64 KiB read, so pipe() paused and resumed
 * the source on nearly every chunk; a bulk download spent its time in that dance.
 */
export const FORWARD_BUFFER_BYTES = 1 << 20;

/** Copies `from` into `to` with backpressure at FORWARD_BUFFER_BYTES, counting bytes; `from`'s end ends `to`'s writing side. */
function forward(from: Duplex, to: Duplex, count: (bytes: number) => void): void {
  const resume = () => from.resume();
  from.on('data', (chunk: Buffer) => {
    count(chunk.length);
    if (!to.write(chunk) && to.writableLength >= FORWARD_BUFFER_BYTES) {
      from.pause();
      to.once('drain', resume);
    }
  });
  // The ClientHello reader may have paused the source, or seen its end already (a request sent
  // and half-closed in one go): as pipe() does, start it flowing and pass on an end already seen.
  if (from.readableEnded) to.end();
  else from.once('end', () => to.end());
  from.resume();
}

/** Null when the ClientHello names the CONNECT host; otherwise why the tunnel is refused. */
function serverNameProblem(serverName: string | null, host: Host): string | null {
  if (serverName === null) {
    // A TLS client does not send an address as a server name (RFC 6066), so an address target
    // reached through an address entry is the one case where no name is expected.
    return host.kind === 'ip' ? null : `ClientHello has no server name (SNI); ${hostText(host)} requires one`;
  }
  const named = normalizeHost(serverName);
  if (named && sameHost(named, host)) return null;
  return `ClientHello names ${clip(serverName)}, not ${hostText(host)}`;
}
