// What observe() makes of egress-policy records (pure: from the container list it already has),
// and which proxy log lines acknowledge a reload.
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { acknowledges, withRecordedPolicies } from '../../../src/engine/egress-policy.js';
import { policyHash } from '../../../src/model/egress.js';
import type { ObservedProxy } from '../../../src/model/observed.js';

const proxy: ObservedProxy = { id: 'proxy-2', name: 'ss.demo.a.egress', environment: 'a', state: 'running', allow: ['old.test'], image: 'img', imageId: 'x' };
const record = (proxyId: string, state: string, allow: string[], env = 'a') =>
  ({
    Id: `${proxyId}-${state}-${allow.join()}`,
    Labels: {
      'io.sandboxshift.project': 'demo',
      'io.sandboxshift.environment': env,
      'io.sandboxshift.role': 'egress-policy',
      'io.sandboxshift.egress.proxy-id': proxyId,
      'io.sandboxshift.egress.policy-state': state,
      'io.sandboxshift.egress.allow': JSON.stringify(allow),
    },
  }) as unknown as Docker.ContainerInfo;
const recorded = (...records: Docker.ContainerInfo[]) => withRecordedPolicies(new Map([['a', proxy]]), records).get('a')!.recorded;

describe('egress policy records', () => {
  it('leaves the label in charge without records, and ignores records of another proxy (stale)', () => {
    expect(recorded()).toBeUndefined();
    expect(recorded(record('proxy-1', 'enforced', ['new.test']), record('proxy-1', 'pending', ['x.test']), record('proxy-2', 'enforced', ['b.test'], 'b'))).toBeUndefined();
  });
  it("reads the enforced list of this proxy's record", () => {
    expect(recorded(record('proxy-2', 'enforced', ['new.test']), record('proxy-1', 'enforced', ['stale.test']))).toEqual({ allow: ['new.test'] });
  });
  it('knows nothing while a reload is pending, or when the records disagree', () => {
    expect(recorded(record('proxy-2', 'enforced', ['new.test']), record('proxy-2', 'pending', ['newer.test']))).toEqual({
      unknown: 'a reload of its allow list began and did not finish (an earlier apply was interrupted)',
    });
    expect(recorded(record('proxy-2', 'enforced', ['new.test']), record('proxy-2', 'enforced', ['newer.test']))).toEqual({ unknown: 'its policy records disagree' });
  });
});

describe('reload acknowledgement', () => {
  const allow = ['pypi.org', '*.github.com'];
  it('is the policy line with the new hash', () => {
    expect(acknowledges({ event: 'policy', trigger: 'SIGHUP', hash: policyHash(allow), rules: allow }, allow, policyHash(allow))).toBe(true);
    expect(acknowledges({ event: 'policy', trigger: 'SIGHUP', hash: policyHash(['pypi.org']), rules: allow }, allow, policyHash(allow))).toBe(false);
  });
  it('falls back, for a proxy that logs no hash, to a reload line with the same rules', () => {
    expect(acknowledges({ event: 'policy', trigger: 'file-change', rules: allow }, allow, policyHash(allow))).toBe(true);
    expect(acknowledges({ event: 'policy', trigger: 'start', rules: allow }, allow, policyHash(allow))).toBe(false);
    expect(acknowledges({ event: 'policy', trigger: 'SIGHUP', rules: ['pypi.org'] }, allow, policyHash(allow))).toBe(false);
  });
});
