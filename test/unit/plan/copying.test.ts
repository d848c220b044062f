// An environment a running `sandboxshift cp` paused (its copying record names that very
// container, and its holder is live) is not drift: nothing is proposed, so a watcher does not
// unpause it mid-copy. A record whose cp is gone, or that names another container, is drift.
import { describe, expect, it } from 'vitest';
import { plan } from '../../../src/plan/index.js';
import { planToJson, renderText } from '../../../src/render/index.js';
import { applied, desiredOf, env, observedOf } from './fixtures.js';

const SINCE = '2026-01-01T10:00:00.000Z';

describe('environments paused by a cp in the plan', () => {
  const desired = desiredOf([env('a')]);
  const a = applied(desired.environments.get('a')!, { state: 'paused', status: 'Up 5 minutes (Paused)' });
  const mark = (live: boolean, containerId = a.id) => ({ environment: 'a', containerId, holder: 'host-1', pid: 4242, since: SINCE, live });

  it('proposes nothing while the cp that paused it runs, and says so', () => {
    const p = plan(desired, { ...observedOf([a]), copying: new Map([['a', mark(true)]]) });
    expect(p.changes.map((c) => c.kind)).toEqual(['no-op']);
    expect(renderText(planToJson(p))).toBe(`SandboxShift plan for project "demo"

No changes. 1 environment matches the configuration.

    environment.a is paused while sandboxshift cp copies (pid 4242 on host-1, since ${SINCE})
`);
    expect(planToJson(p).resource_changes[0]!.reasons).toEqual([{ code: 'copying', message: `paused while sandboxshift cp copies (pid 4242 on host-1, since ${SINCE})` }]);
  });

  it('unpauses one whose cp is gone, saying so, and one whose record names another container', () => {
    const stale = plan(desired, { ...observedOf([a]), copying: new Map([['a', mark(false)]]) });
    expect(stale.changes.map((c) => [c.kind, c.steps])).toEqual([['start', ['unpause']]]);
    expect(stale.changes[0]!.reasons).toEqual([{ code: 'stopped', message: 'paused by a sandboxshift cp that is gone (pid 4242 on host-1)' }]);
    const other = plan(desired, { ...observedOf([a]), copying: new Map([['a', mark(true, 'f'.repeat(64))]]) });
    expect(other.changes[0]!.reasons).toEqual([{ code: 'stopped', message: 'paused outside sandboxshift' }]);
    expect(other.changes[0]!.steps).toEqual(['unpause']);
  });
});
