// The allow-list matcher: what each entry form lets through, and the lookalikes it must not.
import { describe, expect, it } from 'vitest';
import { matchHost, parsePolicy } from '../../../src/egress/index.js';

const policyOf = (...entries: string[]) => {
  const { policy, problems } = parsePolicy(entries);
  expect(problems).toEqual([]);
  return policy;
};
const allowed = (entries: string[], host: string, port = 443) => matchHost(policyOf(...entries), host, port).allowed;

describe('matchHost: names', () => {
  it('matches an exact name on 443 and 80 only', () => {
    const policy = policyOf('allowed.test');
    expect(matchHost(policy, 'allowed.test', 443)).toEqual({ allowed: true, rule: 'allowed.test', reason: "allowed by 'allowed.test'" });
    expect(matchHost(policy, 'allowed.test', 80).allowed).toBe(true);
    expect(matchHost(policy, 'allowed.test', 8443)).toMatchObject({ allowed: false, rule: 'allowed.test', reason: expect.stringContaining('port 8443') });
  });

  it.each(['evilallowed.test', 'allowed.test.evil.test', 'sub.allowed.test', 'allowed.tes', 'allowed.testx', 'xallowed.test'])('refuses the lookalike %s', (host) => {
    expect(allowed(['allowed.test'], host)).toBe(false);
  });

  it('ignores case and one trailing dot, but not two', () => {
    expect(allowed(['allowed.test'], 'ALLOWED.Test')).toBe(true);
    expect(allowed(['allowed.test'], 'allowed.test.')).toBe(true);
    expect(allowed(['Allowed.TEST.'], 'allowed.test')).toBe(true);
    expect(allowed(['allowed.test'], 'allowed.test..')).toBe(false);
  });

  it('compares internationalised names in their ASCII form', () => {
    expect(allowed(['bücher.example'], 'xn--bcher-kva.example')).toBe(true);
    expect(allowed(['xn--bcher-kva.example'], 'BÜCHER.example')).toBe(true);
    expect(allowed(['bucher.example'], 'bücher.example')).toBe(false);
  });

  it('refuses spellings that URL parsing would turn into another host', () => {
    for (const host of ['allowed.test/evil.test', 'allowed.test%2f', 'evil.test@allowed.test', 'allowed.test:443', 'a..test', '', '.', 'allowed.test\u0000']) {
      expect(matchHost(policyOf('allowed.test'), host, 443)).toMatchObject({ allowed: false, reason: expect.stringContaining('not a valid') });
    }
  });
});

describe('matchHost: wildcards', () => {
  const policy = () => policyOf('*.github.com');

  it('matches any depth of subdomain', () => {
    expect(matchHost(policy(), 'api.github.com', 443)).toMatchObject({ allowed: true, rule: '*.github.com' });
    expect(matchHost(policy(), 'a.b.github.com', 443).allowed).toBe(true);
    expect(matchHost(policy(), 'API.GitHub.com.', 443).allowed).toBe(true);
  });

  it('does not match the apex: it must be listed on its own', () => {
    expect(matchHost(policy(), 'github.com', 443).allowed).toBe(false);
    expect(allowed(['*.github.com', 'github.com'], 'github.com')).toBe(true);
  });

  it.each(['evilgithub.com', 'github.com.evil.test', 'githubxcom', 'api.github.co', 'api-github.com'])('refuses %s', (host) => {
    expect(matchHost(policy(), host, 443).allowed).toBe(false);
  });

  it('applies ports to wildcards too', () => {
    expect(allowed(['*.github.com:8443'], 'api.github.com', 8443)).toBe(true);
    expect(allowed(['*.github.com:8443'], 'api.github.com', 443)).toBe(false);
  });
});

describe('matchHost: ports', () => {
  it('allows only the written port when one is given', () => {
    expect(allowed(['db.internal:5432'], 'db.internal', 5432)).toBe(true);
    expect(allowed(['db.internal:5432'], 'db.internal', 443)).toBe(false);
  });

  it('combines entries for the same host', () => {
    const policy = policyOf('allowed.test:8443', 'allowed.test');
    expect(matchHost(policy, 'allowed.test', 8443)).toMatchObject({ allowed: true, rule: 'allowed.test:8443' });
    expect(matchHost(policy, 'allowed.test', 443)).toMatchObject({ allowed: true, rule: 'allowed.test' });
    expect(matchHost(policy, 'allowed.test', 22).allowed).toBe(false);
  });
});

describe('matchHost: addresses and CIDRs', () => {
  it('allows IP literals only inside an address entry', () => {
    const policy = policyOf('10.1.0.0/16');
    expect(matchHost(policy, '10.1.2.3', 443)).toMatchObject({ allowed: true, rule: '10.1.0.0/16' });
    expect(matchHost(policy, '10.2.0.1', 443)).toMatchObject({ allowed: false, reason: 'no address rule covers 10.2.0.1' });
    expect(matchHost(policy, '10.1.2.3', 22).allowed).toBe(false);
    expect(matchHost(policyOf('allowed.test'), '93.184.216.34', 443).allowed).toBe(false);
  });

  it('treats a bare address as a range of one, and an address with a port as that port only', () => {
    expect(allowed(['10.1.2.3'], '10.1.2.3')).toBe(true);
    expect(allowed(['10.1.2.3'], '10.1.2.4')).toBe(false);
    expect(allowed(['10.1.2.3:5432'], '10.1.2.3', 5432)).toBe(true);
    expect(allowed(['10.1.2.3:5432'], '10.1.2.3', 443)).toBe(false);
  });

  it('reads IPv6 entries with and without brackets, and folds IPv4-mapped addresses', () => {
    expect(allowed(['[2001:db8::1]:8443'], '[2001:DB8:0::1]', 8443)).toBe(true);
    expect(allowed(['[2001:db8::1]:8443'], '2001:db8::1', 443)).toBe(false);
    expect(allowed(['fd00::/8'], 'fd12::1')).toBe(true);
    expect(allowed(['10.0.0.0/8'], '::ffff:10.9.8.7')).toBe(true);
    expect(allowed(['::ffff:10.0.0.0/104'], '10.9.8.7')).toBe(true);
  });

  it('never lets a name match an address entry, or an address match a name entry', () => {
    expect(allowed(['127.0.0.0/8'], 'localhost')).toBe(false);
    expect(allowed(['localhost'], '127.0.0.1')).toBe(false);
  });

  it('refuses numeric spellings of addresses written as names', () => {
    expect(allowed(['127.0.0.0/8'], '127.1')).toBe(false);
    expect(allowed(['127.0.0.0/8'], '0x7f.0.0.1')).toBe(false);
    expect(allowed(['127.0.0.0/8'], '１２７.０.０.１')).toBe(false);
  });
});

describe('parsePolicy', () => {
  it('reports entries it cannot read, and they allow nothing', () => {
    const { policy, problems } = parsePolicy(['pypi.org', '*', 'foo.*.com', '*.com', 'https://x.test/', 'x.test:99999', '10.0.0.0/33', 'a b.test', '[::1']);
    expect(policy.rules.map((rule) => rule.entry)).toEqual(['pypi.org']);
    expect(problems.map((problem) => problem.entry)).toEqual(['*', 'foo.*.com', '*.com', 'https://x.test/', 'x.test:99999', '10.0.0.0/33', 'a b.test', '[::1']);
  });

  it('an empty list allows nothing', () => {
    expect(matchHost(parsePolicy([]).policy, 'pypi.org', 443).allowed).toBe(false);
  });
});
