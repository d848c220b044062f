// Opens the proxy's side of a connection, always to an address that passed the guard and never to
// a name, so nothing re-resolves between the check and the connect.

import { connect, type Socket } from 'node:net';
import { errorMessage } from './log-lines.js';
import { TimeoutError } from './resolver.js';

/** Opens a TCP connection to a checked address. Injectable so tests can see where the proxy connects. */
export type Connector = (address: string, port: number, timeoutMs: number) => Promise<Socket>;

export const tcpConnector: Connector = (address, port, timeoutMs) =>
  new Promise((resolve, reject) => {
    // Half-open: an upstream that finishes its answer must not cut off what the client still sends.
    const socket = connect({ host: address, port, noDelay: true, allowHalfOpen: true });
    const timer = setTimeout(() => socket.destroy(new TimeoutError(`connecting to ${address} port ${port} timed out after ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socket);
    });
  });

/** Tries the checked addresses in order (an IPv6 answer may be unroutable in the container). */
export async function connectFirst(connector: Connector, addresses: readonly string[], port: number, timeoutMs: number): Promise<{ socket: Socket; address: string }> {
  const failures: unknown[] = [];
  for (const address of addresses) {
    try {
      return { socket: await connector(address, port, timeoutMs), address };
    } catch (error) {
      failures.push(error);
    }
  }
  const text = failures.map(errorMessage).join('; ') || 'no addresses to try';
  throw failures.every((error) => error instanceof TimeoutError) && failures.length > 0 ? new TimeoutError(text) : new Error(text);
}
