// Idle records read from the container list: one counts only while the container it names is
// still stopped (or paused, for a pause); a started or recreated environment is simply not idle.
import { describe, expect, it } from 'vitest';
import { idleMarks, startedSinceMarked, touchTimes } from '../../../src/engine/idle-record.js';

const SINCE = '2026-01-01T10:00:00.000Z';
const env = (id: string, name: string, state: string) => ({ Id: id, State: state, Labels: { 'io.sandboxshift.role': 'environment', 'io.sandboxshift.environment': name } });
const record = (name: string, container: string, action: string) => ({
  Id: `rec-${name}`,
  State: 'created',
  Labels: {
    'io.sandboxshift.role': 'idle-stopped',
    'io.sandboxshift.environment': name,
    'io.sandboxshift.idle.since': SINCE,
    'io.sandboxshift.idle.action': action,
    'io.sandboxshift.idle.container': container,
  },
});

describe('idle marks', () => {
  it('holds while the named container is as the policy left it', () => {
    const marks = idleMarks([env('c1', 'a', 'exited'), record('a', 'c1', 'stop'), env('c2', 'b', 'paused'), record('b', 'c2', 'pause')]);
    expect([...marks.values()]).toEqual([
      { environment: 'a', since: SINCE, action: 'stop', containerId: 'c1' },
      { environment: 'b', since: SINCE, action: 'pause', containerId: 'c2' },
    ]);
  });

  it('lapses when the container was started, recreated, or un-paused and stopped by hand', () => {
    expect(idleMarks([env('c1', 'a', 'running'), record('a', 'c1', 'stop')]).size).toBe(0);
    expect(idleMarks([env('c9', 'a', 'exited'), record('a', 'c1', 'stop')]).size).toBe(0);
    expect(idleMarks([env('c2', 'b', 'exited'), record('b', 'c2', 'pause')]).size).toBe(0);
  });

  it('reads the latest touch per environment', () => {
    const touch = (name: string, at: number) => ({
      Id: `t-${at}`,
      State: 'created',
      Labels: { 'io.sandboxshift.role': 'touch', 'io.sandboxshift.environment': name, 'io.sandboxshift.idle.touched-at': String(at) },
    });
    expect(touchTimes([touch('a', 5), touch('a', 9), touch('b', 7)])).toEqual(
      new Map([
        ['a', 9],
        ['b', 7],
      ]),
    );
  });
});

describe('idle marks and a start by hand', () => {
  const marked = (created: number) => ({ ...record('a', 'c1', 'stop'), Created: created });
  const listed = (created: number) => [env('c1', 'a', 'exited'), marked(created)];

  it('lapse when the container started after its record was made', () => {
    const containers = listed(1_000);
    const marks = idleMarks(containers);
    expect(startedSinceMarked(containers, marks, new Map([['c1', 1_000_500]]))).toEqual(new Set(['a']));
  });

  it('hold for the start the policy saw (the record comes at least stopAfter later), or when the start is unknown', () => {
    const containers = listed(1_000);
    const marks = idleMarks(containers);
    expect(startedSinceMarked(containers, marks, new Map([['c1', 998_700]]))).toEqual(new Set());
    expect(startedSinceMarked(containers, marks, new Map())).toEqual(new Set());
  });
});
