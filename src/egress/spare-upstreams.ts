// A connected upstream socket kept ready for the next tunnel to the same address and port, so a
// client opening one connection after another to a host (a package manager, a test suite) does not
// wait for the proxy's TCP handshake upstream before its 200. Nothing about the checks changes: a
// spare is only opened to an address a tunnel was just allowed to and connected to, it is used
// only when the new CONNECT's own check (under the policy of the moment) yields that address, a
// reload throws every spare away, and one that hears anything from its server (data, a close, an
// error) before it is used is thrown away too: a tunnel starts on a socket nobody has spoken on.

import type { Socket } from 'node:net';
import type { Connector } from './upstream.js';

interface Spare {
  socket: Socket;
  timer: NodeJS.Timeout;
  discard: () => void;
}

/** How many spares at most, over all destinations: one per address and port. */
const MAX_SPARES = 16;

export class SpareUpstreams {
  private readonly ready = new Map<string, Spare>();
  private readonly opening = new Set<string>();
  /** Bumped by clear(), so a spare still opening when the policy changed is not kept. */
  private generation = 0;

  constructor(
    private readonly connect: Connector,
    private readonly ttlMs: number,
    private readonly max = MAX_SPARES,
  ) {}

  get size(): number {
    return this.ready.size;
  }

  /** Takes out a spare connected to one of `addresses` on `port`, if there is one nobody has spoken on. */
  take(addresses: readonly string[], port: number): { socket: Socket; address: string } | undefined {
    for (const address of addresses) {
      const spare = this.remove(keyOf(address, port));
      if (!spare) continue;
      const { socket } = spare;
      if (!socket.destroyed && socket.readyState === 'open' && socket.readableLength === 0 && !socket.readableEnded) return { socket, address };
      socket.destroy();
    }
    return undefined;
  }

  /** Opens a spare to `address`:`port` in the background, unless one is ready or on its way. */
  refill(address: string, port: number, timeoutMs: number): void {
    const key = keyOf(address, port);
    if (this.ready.has(key) || this.opening.has(key) || this.ready.size + this.opening.size >= this.max) return;
    this.opening.add(key);
    const generation = this.generation;
    this.connect(address, port, timeoutMs).then(
      (socket) => {
        this.opening.delete(key);
        if (generation !== this.generation || this.ready.has(key)) socket.destroy();
        else this.keep(key, socket);
      },
      () => {
        this.opening.delete(key);
      },
    );
  }

  /** Closes every spare, and any still opening when it arrives (a policy reload, shutdown). */
  clear(): void {
    this.generation++;
    for (const key of [...this.ready.keys()]) this.remove(key)?.socket.destroy();
  }

  private keep(key: string, socket: Socket): void {
    const discard = () => {
      if (this.ready.get(key)?.socket === socket) this.remove(key);
      socket.destroy();
    };
    // A 'readable' listener reads without taking the bytes: any data or end from the server fires it.
    socket.on('readable', discard);
    socket.on('error', discard);
    socket.on('close', discard);
    const timer = setTimeout(discard, this.ttlMs);
    timer.unref();
    this.ready.set(key, { socket, timer, discard });
  }

  private remove(key: string): Spare | undefined {
    const spare = this.ready.get(key);
    if (!spare) return undefined;
    this.ready.delete(key);
    clearTimeout(spare.timer);
    spare.socket.off('readable', spare.discard);
    spare.socket.off('error', spare.discard);
    spare.socket.off('close', spare.discard);
    return spare;
  }
}

function keyOf(address: string, port: number): string {
  return `${address} ${port}`;
}
