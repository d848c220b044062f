// A full destroy leaves nothing of the project behind but workspaces (unless purged), protect
// records of kept workspaces and the applied-commit record: the outside network and the idle and
// touch records are planned, so the plan shows what goes.
import { describe, expect, it } from 'vitest';
import { planDestroy } from '../../../src/plan/index.js';
import { planToJson, renderText } from '../../../src/render/index.js';
import type { ObservedProxy, ObservedState } from '../../../src/model/observed.js';
import { applied, desiredOf, env, observedOf } from './fixtures.js';

const allow = { egress: { mode: 'allow' as const, allow: ['pypi.org'] } };

function proxy(environment: string): ObservedProxy {
  return { id: `proxy-${environment}`, name: `ss.demo.${environment}.egress`, environment, state: 'running', allow: ['pypi.org'], image: 'sandboxshift/egress-proxy:test', imageId: 'sha256:2' };
}

/** Applied `a` (egress) and `b` (none), both with idle or touch records, and the outside network. */
function engineWithEverything(extra: Partial<ObservedState> = {}): { desired: ReturnType<typeof desiredOf>; observed: ObservedState } {
  const desired = desiredOf([env('a', allow), env('b')]);
  const base = observedOf([...desired.environments.values()].map((d) => applied(d)));
  const observed: ObservedState = {
    ...base,
    outsideNetwork: true,
    proxies: new Map([['a', proxy('a')]]),
    networks: new Map([['a', { id: 'net-a', name: 'ss.demo.a.net', subnets: ['10.213.0.0/28'], gatewayIsolated: true }]]),
    activityRecords: new Set(['a', 'b']),
    ...extra,
  };
  return { desired, observed };
}

describe('destroy removes what the project made besides its environments', () => {
  it('plans the outside network last, after every proxy on it, and the idle and touch records with their environment', () => {
    const { desired, observed } = engineWithEverything();
    const p = planDestroy(desired, observed);
    expect(p.changes.map((c) => [c.address, c.kind, c.steps, c.dependsOn])).toEqual([
      ['environment.a', 'delete', ['remove-container', 'remove-proxy', 'remove-network', 'remove-idle-records'], []],
      ['environment.b', 'delete', ['remove-container', 'remove-idle-records'], []],
      ['network.egress-out', 'delete', ['remove-outside-network'], ['environment.a']],
    ]);
    const net = p.changes[2]!;
    expect(net.name).toBe('ss.demo.egress-out');
    expect(net.reasons).toEqual([{ code: 'destroy', message: "destroy; the project's outside network for egress proxies" }]);
    expect(p.changes[0]!.reasons.map((r) => r.message)).toEqual(['destroy; /workspace volume kept', 'its idle, touch and copying records removed']);
    expect(p.diagnostics).toEqual([]);
    const text = renderText(planToJson(p));
    expect(text).toContain('network.egress-out');
    expect(text).toContain('ss.demo.egress-out');
    expect(text).toContain('its idle, touch and copying records removed');
    expect(text).toContain('Plan: 0 to add, 0 to change, 3 to destroy.');
  });

  it('clears the records of an environment whose container is already gone, volume kept', () => {
    const desired = desiredOf([env('gone')]);
    const p = planDestroy(desired, { ...observedOf([], { volumes: ['gone'] }), activityRecords: new Set(['gone']) });
    expect(p.changes.map((c) => [c.address, c.kind, c.steps, c.reasons.map((r) => r.message)])).toEqual([
      ['environment.gone', 'delete', ['remove-idle-records'], ['leftover idle, touch and copying records removed (their container is gone)']],
    ]);
    expect(p.changes[0]!.dataEffect).toBe('none');
  });

  it('with --target removes that environment’s records, and leaves the shared outside network', () => {
    const { desired, observed } = engineWithEverything();
    const p = planDestroy(desired, observed, { targets: ['b'] });
    expect(p.changes.map((c) => [c.address, c.steps])).toEqual([['environment.b', ['remove-container', 'remove-idle-records']]]);
  });

  it('leaves a look-alike outside network alone and says so', () => {
    const { desired, observed } = engineWithEverything({ outsideNetwork: false, foreignOutsideNetwork: 'f00d'.repeat(16) });
    const p = planDestroy(desired, observed);
    expect(p.changes.map((c) => c.address)).toEqual(['environment.a', 'environment.b']);
    expect(p.diagnostics).toEqual([
      {
        severity: 'warning',
        message: "network ss.demo.egress-out (f00df00df00d) has the name of this project's outside network but was not created by sandboxshift: destroy leaves it alone",
        hint: 'if it is yours and no longer needed, remove it yourself (docker network rm f00df00df00d); a later apply with egress refuses to use it',
      },
    ]);
  });

  it('plans nothing extra on an engine without them', () => {
    const desired = desiredOf([env('b')]);
    const p = planDestroy(desired, observedOf([applied(desired.environments.get('b')!)]));
    expect(p.changes.map((c) => [c.address, c.steps])).toEqual([['environment.b', ['remove-container']]]);
  });
});
