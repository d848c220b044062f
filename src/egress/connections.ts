// Every connection the proxy let through, while it is open: who, where to, under which rule, and
// how many bytes moved. A policy reload asks each one again whether the new list still allows it
// and closes the ones it does not; the others are not touched (no pause, no re-resolution: the
// host it was allowed for and the address it is connected to are checked as they are).

import { guardAddress } from './address-guard.js';
import { hostText, type Host } from './host-name.js';
import { matchHost, type EgressPolicy } from './policy.js';

export interface OpenConnection {
  readonly id: number;
  /** `address:port` of the sandbox side. */
  readonly client: string;
  /** `CONNECT`, or the forwarded request's method. */
  readonly method: string;
  readonly host: Host;
  readonly port: number;
  /** The checked address the proxy is connected to. */
  readonly address: string;
  readonly rule: string;
  readonly startedAt: Date;
  bytesUp: number;
  bytesDown: number;
}

export interface ConnectionTraffic {
  /** Bytes the sandbox sent through it. */
  up(bytes: number): void;
  /** Bytes that came back to the sandbox. */
  down(bytes: number): void;
}

/** Why the policy refuses this connection now, or null when it still allows it. */
export function refusalUnder(policy: EgressPolicy, connection: Pick<OpenConnection, 'host' | 'port' | 'address'>): string | null {
  const match = matchHost(policy, hostText(connection.host), connection.port);
  if (!match.allowed) return match.reason;
  const verdict = guardAddress(policy, connection.address);
  if (!verdict.allowed) return connection.host.kind === 'ip' ? verdict.reason : `${hostText(connection.host)} is connected to ${verdict.reason}`;
  return null;
}

interface Entry {
  connection: OpenConnection;
  close: () => void;
}

export interface ClosedOnReload {
  connection: OpenConnection;
  reason: string;
}

/** Listens for every change a stats file cares about. */
export interface ConnectionEvents {
  opened(connection: OpenConnection): void;
  closed(connection: OpenConnection): void;
  bytes(up: number, down: number): void;
}

export class ConnectionRegistry {
  private readonly open = new Map<number, Entry>();
  private nextId = 1;

  constructor(private readonly events?: ConnectionEvents) {}

  get size(): number {
    return this.open.size;
  }

  list(): OpenConnection[] {
    return [...this.open.values()].map((entry) => entry.connection);
  }

  /**
   * Tracks a connection until `release` is called; `close` must end it (both sides). Returns
   * the counters to call as bytes move, and `release` for when it has closed by itself.
   */
  add(fields: Omit<OpenConnection, 'id' | 'startedAt' | 'bytesUp' | 'bytesDown'>, close: () => void): ConnectionTraffic & { release(): void } {
    const connection: OpenConnection = { ...fields, id: this.nextId++, startedAt: new Date(), bytesUp: 0, bytesDown: 0 };
    this.open.set(connection.id, { connection, close });
    this.events?.opened(connection);
    const events = this.events;
    return {
      up: (bytes) => {
        connection.bytesUp += bytes;
        events?.bytes(bytes, 0);
      },
      down: (bytes) => {
        connection.bytesDown += bytes;
        events?.bytes(0, bytes);
      },
      release: () => {
        if (this.open.delete(connection.id)) events?.closed(connection);
      },
    };
  }

  /** Closes every open connection `policy` no longer allows; returns them with the reason. */
  enforce(policy: EgressPolicy): { kept: number; closed: ClosedOnReload[] } {
    const closed: ClosedOnReload[] = [];
    for (const entry of [...this.open.values()]) {
      const reason = refusalUnder(policy, entry.connection);
      if (reason === null) continue;
      closed.push({ connection: entry.connection, reason });
      this.open.delete(entry.connection.id);
      this.events?.closed(entry.connection);
      entry.close();
    }
    return { kept: this.open.size, closed };
  }

  /** Closes everything (shutdown). */
  closeAll(): void {
    for (const entry of [...this.open.values()]) {
      this.open.delete(entry.connection.id);
      this.events?.closed(entry.connection);
      entry.close();
    }
  }
}
