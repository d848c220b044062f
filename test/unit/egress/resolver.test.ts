// The proxy's DNS answer cache: reuses an answer for its time, never a failure.
import { describe, expect, it } from 'vitest';
import { cachingResolver } from '../../../src/egress/resolver.js';

describe('cachingResolver', () => {
  it('asks once per name within the time, again after it, and never keeps a failure (clock injected)', async () => {
    const calls: string[] = [];
    let fail = true;
    let now = 1_000;
    const resolve = cachingResolver(
      async (name) => {
        calls.push(name);
        if (name === 'flaky.test' && fail) throw new Error('getaddrinfo EAI_AGAIN flaky.test');
        return [`192.0.2.${calls.length}`];
      },
      100,
      1024,
      () => now,
    );
    expect(await resolve('a.test')).toEqual(['192.0.2.1']);
    expect(await resolve('a.test')).toEqual(['192.0.2.1']);
    expect(calls).toEqual(['a.test']);
    await expect(resolve('flaky.test')).rejects.toThrow('EAI_AGAIN');
    fail = false;
    expect(await resolve('flaky.test')).toEqual(['192.0.2.3']);
    now += 99;
    expect(await resolve('a.test')).toEqual(['192.0.2.1']);
    now += 1;
    expect(await resolve('a.test')).toEqual(['192.0.2.4']);
    expect(calls).toEqual(['a.test', 'flaky.test', 'flaky.test', 'a.test']);
  });
});
