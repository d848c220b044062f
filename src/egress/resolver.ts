// The proxy resolves names itself and connects to the addresses it checked, so a DNS answer that
// changes between check and connect (rebinding) has nothing to change.

import { lookup } from 'node:dns/promises';

/** Every address a name resolves to. */
export type Resolver = (name: string) => Promise<readonly string[]>;

export const systemResolver: Resolver = async (name) => {
  const answers = await lookup(name, { all: true, verbatim: true });
  return answers.map((answer) => answer.address);
};

export class TimeoutError extends Error {}

/** Stops waiting after `ms`; the work itself may go on (getaddrinfo cannot be cancelled). */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
