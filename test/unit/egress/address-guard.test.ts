// Which addresses the proxy refuses to connect to, and which address entries lift a refusal.
import { describe, expect, it } from 'vitest';
import { guardAddress, parsePolicy } from '../../../src/egress/index.js';

const none = parsePolicy([]).policy;

describe('guardAddress without address entries', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['169.254.1.1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['168.63.129.16', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['fe80::1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::FFFF:10.0.0.1', 'private'],
    ['::ffff:a00:1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['2002:7f00:1::', 'loopback'],
  ])('refuses %s (%s)', (address, category) => {
    expect(guardAddress(none, address)).toMatchObject({ allowed: false, category });
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])('allows the public address %s', (address) => {
    expect(guardAddress(none, address)).toMatchObject({ allowed: true, reason: 'public address' });
  });

  it('refuses what is not an address, including zone ids', () => {
    expect(guardAddress(none, 'localhost').allowed).toBe(false);
    expect(guardAddress(none, 'fe80::1%eth0').allowed).toBe(false);
    expect(guardAddress(none, '').allowed).toBe(false);
  });

  it('reports the canonical address', () => {
    expect(guardAddress(none, '::ffff:7f00:1').address).toBe('127.0.0.1');
    expect(guardAddress(none, '2606:4700:0:0:0:0:0:1111').address).toBe('2606:4700::1111');
  });
});

describe('guardAddress with address entries', () => {
  const policy = (...entries: string[]) => parsePolicy(entries).policy;

  it('lets an entry inside the forbidden range open it', () => {
    expect(guardAddress(policy('127.0.0.0/8'), '127.0.0.1')).toMatchObject({ allowed: true, rule: '127.0.0.0/8', category: 'loopback' });
    expect(guardAddress(policy('10.1.0.0/16'), '10.1.2.3')).toMatchObject({ allowed: true, rule: '10.1.0.0/16' });
    expect(guardAddress(policy('10.1.0.0/16'), '10.2.0.1').allowed).toBe(false);
    expect(guardAddress(policy('::1'), '::1').allowed).toBe(true);
    expect(guardAddress(policy('127.0.0.0/8'), '::ffff:127.0.0.1').allowed).toBe(true);
  });

  it('does not let a wider entry open a forbidden range by accident', () => {
    expect(guardAddress(policy('0.0.0.0/0'), '10.0.0.1').allowed).toBe(false);
    expect(guardAddress(policy('0.0.0.0/0'), '127.0.0.1').allowed).toBe(false);
    expect(guardAddress(policy('::/0'), 'fd00::1').allowed).toBe(false);
  });

  it('needs the metadata address named; opening link-local is not enough', () => {
    expect(guardAddress(policy('169.254.0.0/16'), '169.254.1.1').allowed).toBe(true);
    expect(guardAddress(policy('169.254.0.0/16'), '169.254.169.254')).toMatchObject({ allowed: false, category: 'metadata' });
    expect(guardAddress(policy('169.254.169.254'), '169.254.169.254').allowed).toBe(true);
    expect(guardAddress(policy('fd00::/8'), 'fd00:ec2::254').allowed).toBe(false);
  });

  it('never opens IPv6 forms that embed a forbidden IPv4 address', () => {
    expect(guardAddress(policy('64:ff9b::/96', '127.0.0.0/8'), '64:ff9b::7f00:1').allowed).toBe(false);
  });

  it('ignores name entries', () => {
    expect(guardAddress(policy('localhost', '*.internal.test'), '127.0.0.1').allowed).toBe(false);
  });
});
