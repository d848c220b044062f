// The pure parts of `watch --git` and `--listen`: the fast-forward decision, the local edits a
// fast-forward would overwrite, the webhook signature and body bound, the listen address.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { blockingEdits, checkSignature, fastForwardDecision, parseListenAddress, readBounded, signBody, splitRemoteRef } from '../../../src/watch/index.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

describe('fastForwardDecision', () => {
  it('the same commit is up to date', () => expect(fastForwardDecision(A, A, A)).toEqual({ kind: 'up-to-date' }));
  it('a remote that descends from HEAD is a fast-forward', () => expect(fastForwardDecision(A, B, A)).toEqual({ kind: 'fast-forward' }));
  it('a remote HEAD already contains is nothing to take', () => expect(fastForwardDecision(B, A, A)).toEqual({ kind: 'local-ahead' }));
  it('a merge base that is neither is a diverged history', () => expect(fastForwardDecision(A, B, C)).toEqual({ kind: 'diverged' }));
  it('no common history is diverged', () => expect(fastForwardDecision(A, B, null)).toEqual({ kind: 'diverged' }));
});

describe('blockingEdits', () => {
  it('only paths both incoming and edited locally block, sorted and once each', () => {
    expect(blockingEdits(['sandboxshift.yaml', 'README.md'], ['notes.txt', 'sandboxshift.yaml', 'sandboxshift.yaml'])).toEqual(['sandboxshift.yaml']);
  });
  it('local edits elsewhere do not block', () => expect(blockingEdits(['sandboxshift.yaml'], ['notes.txt'])).toEqual([]));
});

describe('splitRemoteRef', () => {
  it('splits at the first slash; the branch may hold more', () => expect(splitRemoteRef('origin/feature/x')).toEqual({ remote: 'origin', branch: 'feature/x' }));
  it('refuses a ref without a remote or a branch', () => {
    expect(splitRemoteRef('main')).toBeNull();
    expect(splitRemoteRef('/main')).toBeNull();
    expect(splitRemoteRef('origin/')).toBeNull();
  });
});

describe('checkSignature', () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  it('accepts the HMAC-SHA256 of the raw body with the secret', () => expect(checkSignature(body, signBody(body, 's3cret'), 's3cret')).toBe('valid'));
  it('refuses a missing header as unsigned', () => {
    expect(checkSignature(body, undefined, 's3cret')).toBe('unsigned');
    expect(checkSignature(body, '', 's3cret')).toBe('unsigned');
  });
  it('refuses another secret, another body, a sha1 header and a truncated digest', () => {
    expect(checkSignature(body, signBody(body, 'other'), 's3cret')).toBe('bad-signature');
    expect(checkSignature(Buffer.from(`${body.toString()} `), signBody(body, 's3cret'), 's3cret')).toBe('bad-signature');
    expect(checkSignature(body, `sha1=${'0'.repeat(40)}`, 's3cret')).toBe('bad-signature');
    expect(checkSignature(body, signBody(body, 's3cret').slice(0, -2), 's3cret')).toBe('bad-signature');
  });
  it('takes the hex digest in either case', () => expect(checkSignature(body, signBody(body, 'k').toUpperCase().replace('SHA256=', 'sha256='), 'k')).toBe('valid'));
});

describe('readBounded', () => {
  const chunks = (...sizes: number[]) => Readable.from(sizes.map((n) => Buffer.alloc(n, 120)));
  it('reads a body up to the limit', async () => {
    const r = await readBounded(chunks(4, 6), null, 10);
    expect(r.ok && r.body.length).toBe(10);
  });
  it('refuses a declared length over the limit before reading', async () => {
    let read = false;
    const stream = (async function* () {
      read = true;
      yield Buffer.alloc(1);
    })();
    expect(await readBounded(stream, 11, 10)).toEqual({ ok: false });
    expect(read).toBe(false);
  });
  it('refuses a body that grows past the limit without a declared length', async () => expect(await readBounded(chunks(6, 6), null, 10)).toEqual({ ok: false }));
});

describe('parseListenAddress', () => {
  it('takes HOST:PORT and [IPv6]:PORT', () => {
    expect(parseListenAddress('127.0.0.1:9419')).toEqual({ host: '127.0.0.1', port: 9419 });
    expect(parseListenAddress('[::1]:9419')).toEqual({ host: '::1', port: 9419 });
    expect(parseListenAddress('localhost:80')).toEqual({ host: 'localhost', port: 80 });
  });
  it('refuses a bare port, port 0 and a port out of range (binding only to an address given)', () => {
    expect(parseListenAddress(':9419')).toBeNull();
    expect(parseListenAddress('9419')).toBeNull();
    expect(parseListenAddress('127.0.0.1:0')).toBeNull();
    expect(parseListenAddress('127.0.0.1:70000')).toBeNull();
  });
});
