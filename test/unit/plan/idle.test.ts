// An environment an idle policy stopped or paused (its record names that very container) is not
// drift: the plan proposes nothing and says why. The same state without the record, or with a
// record naming another container, is drift and is started.
import { describe, expect, it } from 'vitest';
import { plan } from '../../../src/plan/index.js';
import { planToJson, renderText } from '../../../src/render/index.js';
import { applied, desiredOf, env, observedOf } from './fixtures.js';

const SINCE = '2026-01-01T10:00:00.000Z';

describe('idle-stopped environments in the plan', () => {
  const desired = desiredOf([env('a'), env('b')]);
  const a = applied(desired.environments.get('a')!, { state: 'exited', status: 'Exited (0) 1 minute ago' });
  const b = applied(desired.environments.get('b')!, { state: 'paused', status: 'Up 5 minutes (Paused)' });

  it('proposes nothing for a stopped or paused one and says so', () => {
    const observed = {
      ...observedOf([a, b]),
      idle: new Map([
        ['a', { environment: 'a', since: SINCE, action: 'stop' as const, containerId: a.id }],
        ['b', { environment: 'b', since: SINCE, action: 'pause' as const, containerId: b.id }],
      ]),
    };
    const p = plan(desired, observed);
    expect(p.changes.map((c) => c.kind)).toEqual(['no-op', 'no-op']);
    expect(renderText(planToJson(p))).toBe(`SandboxShift plan for project "demo"

No changes. 2 environments match the configuration.

    environment.a is stopped (idle since ${SINCE}, by policy); sandboxshift wake a starts it
    environment.b is paused (idle since ${SINCE}, by policy); sandboxshift wake b starts it
`);
    expect(planToJson(p).resource_changes[0]!.reasons).toEqual([{ code: 'idle', message: `stopped (idle since ${SINCE}, by policy); sandboxshift wake a starts it` }]);
  });

  it('starts one whose record names another container (made again since)', () => {
    const observed = { ...observedOf([a, b]), idle: new Map([['a', { environment: 'a', since: SINCE, action: 'stop' as const, containerId: 'f'.repeat(64) }]]) };
    const p = plan(desired, observed);
    expect(p.changes.map((c) => [c.name, c.kind])).toEqual([
      ['a', 'start'],
      ['b', 'start'],
    ]);
    expect(p.changes[0]!.reasons[0]!.message).toBe('stopped outside sandboxshift (Exited (0) 1 minute ago)');
  });
});
