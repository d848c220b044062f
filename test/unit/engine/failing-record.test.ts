// Failing records as status reads them: the highest count per address wins (a crash between
// creating the new record and removing the old leaves two), garbled records are ignored.
import { describe, expect, it } from 'vitest';
import { failingFromLabels } from '../../../src/engine/failing-record.js';
import { failingRecordName } from '../../../src/model/names.js';

const rec = (address: string, count: string, error = 'boom') => ({
  'io.sandboxshift.failing.address': address,
  'io.sandboxshift.failing.count': count,
  'io.sandboxshift.failing.since': '2026-12-02T10:00:00.000Z',
  'io.sandboxshift.failing.last': '2026-12-02T10:00:07.000Z',
  'io.sandboxshift.failing.step': 'create-container',
  'io.sandboxshift.failing.error': error,
});

describe('failing records', () => {
  it('keeps the highest count per address and ignores garbled ones', () => {
    const got = failingFromLabels([rec('environment.b', '2'), rec('environment.b', '3', 'later'), rec('environment.a', 'x'), rec('', '1'), rec('image.tools', '1')]);
    expect(got).toEqual([
      { address: 'environment.b', count: 3, since: '2026-12-02T10:00:00.000Z', last: '2026-12-02T10:00:07.000Z', step: 'create-container', error: 'later' },
      { address: 'image.tools', count: 1, since: '2026-12-02T10:00:00.000Z', last: '2026-12-02T10:00:07.000Z', step: 'create-container', error: 'boom' },
    ]);
  });

  it('names a record so the engine accepts it, whatever the address holds', () => {
    expect(failingRecordName('demo', 'environment.b', 3)).toBe('ss.demo.failing-environment.b-3');
    expect(failingRecordName('demo', 'image.x/y:z', 1)).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
  });
});
