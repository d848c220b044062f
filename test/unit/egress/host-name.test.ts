// Host normalisation and authority splitting, the common ground every comparison stands on.
import { describe, expect, it } from 'vitest';
import { hostText, normalizeHost, parseAuthority } from '../../../src/egress/index.js';

const text = (raw: string) => {
  const host = normalizeHost(raw);
  return host ? hostText(host) : null;
};

describe('normalizeHost', () => {
  it.each([
    ['Example.COM', 'example.com'],
    ['example.com.', 'example.com'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['ｅｘａｍｐｌｅ.com', 'example.com'],
    ['_acme.example.com', '_acme.example.com'],
    ['localhost', 'localhost'],
    ['10.0.0.1', '10.0.0.1'],
    ['[2001:DB8::1]', '[2001:db8::1]'],
    ['2001:db8:0:0::1', '[2001:db8::1]'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['[::ffff:7f00:1]', '127.0.0.1'],
  ])('normalises %s to %s', (raw, expected) => {
    expect(text(raw)).toBe(expected);
  });

  it.each([
    '',
    '.',
    'a..b',
    'example.com..',
    '-a.example',
    'a-.example',
    'a/b.example',
    'a%2eb.example',
    'a@b.example',
    'a:b',
    'a b',
    '*.example.com',
    '127.1',
    '0x7f.0.0.1',
    '１２７.０.０.１',
    '10.0.0.1.',
    '[10.0.0.1]',
    'fe80::1%eth0',
    `${'a'.repeat(64)}.example`,
    `${'a.'.repeat(127)}aa`,
  ])('refuses %j', (raw) => {
    expect(normalizeHost(raw)).toBeNull();
  });
});

describe('parseAuthority', () => {
  it('splits names, IPv4 and bracketed IPv6', () => {
    expect(parseAuthority('a.test:443')).toEqual({ host: 'a.test', port: 443 });
    expect(parseAuthority('10.0.0.1:8080')).toEqual({ host: '10.0.0.1', port: 8080 });
    expect(parseAuthority('[::1]:8443')).toEqual({ host: '[::1]', port: 8443 });
    expect(parseAuthority('a.test', 80)).toEqual({ host: 'a.test', port: 80 });
    expect(parseAuthority('[::1]', 80)).toEqual({ host: '[::1]', port: 80 });
  });

  it.each(['a.test', 'a.test:', ':443', 'a.test:0', 'a.test:65536', 'a.test:+443', 'a.test:44 3', '::1:443', '[::1]443', '[::1', '[]:443'])('refuses %j without a default port', (raw) => {
    expect(parseAuthority(raw)).toBeNull();
  });
});
