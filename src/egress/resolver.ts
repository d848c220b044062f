// The proxy resolves names itself and connects to the addresses it checked, so a DNS answer that
// changes between check and connect (rebinding) has nothing to change.

import { lookup } from 'node:dns/promises';

/** Every address a name resolves to. */
export type Resolver = (name: string) => Promise<readonly string[]>;

export const systemResolver: Resolver = async (name) => {
  const answers = await lookup(name, { all: true, verbatim: true });
  return answers.map((answer) => answer.address);
};

/**
 * Remembers each name's answer for `ttlMs`, so a client opening many connections to one host does
 * not pay a lookup each time (getaddrinfo through Docker's DNS costs about a millisecond). Safe for
 * the checks: every cached address still goes through the guard under the policy of the moment,
 * and the proxy connects to exactly what was checked. Failures are not remembered.
 */
export function cachingResolver(resolve: Resolver, ttlMs: number, maxNames = 1024, clock: () => number = Date.now): Resolver {
  const cache = new Map<string, { at: number; answers: Promise<readonly string[]> }>();
  return (name) => {
    const now = clock();
    const hit = cache.get(name);
    if (hit && now - hit.at < ttlMs) return hit.answers;
    if (cache.size >= maxNames) cache.clear();
    const answers = resolve(name);
    cache.set(name, { at: now, answers });
    answers.catch(() => {
      if (cache.get(name)?.answers === answers) cache.delete(name);
    });
    return answers;
  };
}

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
