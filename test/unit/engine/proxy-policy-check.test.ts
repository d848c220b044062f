// The list a proxy's label or records claim, and the note a hand edit of its policy file gets.
import { describe, expect, it } from 'vitest';
import { claimedAllow, driftNote } from '../../../src/engine/proxy-policy-check.js';
import { policyHash } from '../../../src/model/egress.js';

describe('claimedAllow', () => {
  it('is the record’s list after a reload, else the label’s; nothing when a reload was left unfinished', () => {
    expect(claimedAllow({ allow: ['a.example'] })).toEqual(['a.example']);
    expect(claimedAllow({ allow: ['a.example'], recorded: { allow: ['b.example'] } })).toEqual(['b.example']);
    expect(claimedAllow({ allow: ['a.example'], recorded: { unknown: 'interrupted' } })).toBeNull();
    expect(claimedAllow({ allow: null })).toBeNull();
  });
});

describe('driftNote', () => {
  it('names both hashes and where the claim came from', () => {
    expect(driftNote('sha256:abc', ['a.example'], 'record')).toBe(
      `it reports policy sha256:abc, not the ${policyHash(['a.example'])} its record says (its policy file was changed outside sandboxshift)`,
    );
  });
});
