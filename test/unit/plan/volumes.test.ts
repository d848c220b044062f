// Extra named volumes in the pure planner: new or kept with the container, a replace when the
// list changes, purged only on request and never when protected, look-alikes refused, dropped
// ones named and kept.
import { describe, expect, it } from 'vitest';
import type { ObservedDataVolume, ObservedState } from '../../../src/model/observed.js';
import { volumeMounts } from '../../../src/model/desired.js';
import { plan } from '../../../src/plan/plan.js';
import { planDestroy } from '../../../src/plan/destroy.js';
import { securityDrift } from '../../../src/plan/drift.js';
import type { EnvironmentChange } from '../../../src/plan/types.js';
import { applied, desiredOf, env, observedOf } from './fixtures.js';

const withData = (observed: ObservedState, env: string, volumes: string[], protect = false): ObservedState => ({
  ...observed,
  dataVolumes: new Map([[env, volumes.map((v): ObservedDataVolume => ({ name: `ss.demo.${env}.vol.${v}`, environment: env, volume: v, protect }))]]),
});

const only = (changes: readonly unknown[]) => changes[0] as EnvironmentChange;

describe('extra named volumes', () => {
  const desired = desiredOf([env('a', { volumes: { data: '/data/agent', cache: '/cache' } })]);
  const d = desired.environments.get('a')!;

  it('are named ss.PROJECT.ENV.vol.NAME, sorted, and listed with /workspace by volumeMounts', () => {
    expect(d.volumes).toEqual([
      { name: 'cache', path: '/cache', volumeName: 'ss.demo.a.vol.cache' },
      { name: 'data', path: '/data/agent', volumeName: 'ss.demo.a.vol.data' },
    ]);
    expect(volumeMounts(d)).toEqual(['/workspace', '/cache', '/data/agent']);
    expect(d.spec.volumes).toEqual({ data: '/data/agent', cache: '/cache' });
  });

  it('leave the spec (and so the config hash) of an environment without them as it was', () => {
    expect('volumes' in desiredOf([env('a')]).environments.get('a')!.spec).toBe(false);
  });

  it('are new with a new environment and kept when they exist', () => {
    expect(only(plan(desired, observedOf([], { volumes: [] })).changes).volumes?.map((v) => v.action)).toEqual(['create', 'create']);
    const kept = plan(desired, withData(observedOf([applied(d)]), 'a', ['cache', 'data']));
    expect(only(kept.changes)).toMatchObject({ kind: 'no-op', volumes: [{ action: 'keep' }, { action: 'keep' }] });
  });

  it('replace the container when one is added, keeping the others', () => {
    const before = desiredOf([env('a', { volumes: { data: '/data/agent' } })]).environments.get('a')!;
    const p = plan(desired, withData(observedOf([applied(before)]), 'a', ['data']));
    expect(only(p.changes).kind).toBe('replace');
    expect(only(p.changes).reasons.map((r) => r.message)).toEqual(['volume cache added (every volume is kept)']);
    expect(only(p.changes).volumes?.map((v) => `${v.name}:${v.action}`)).toEqual(['cache:create', 'data:keep']);
  });

  it('a look-alike of a declared volume is refused, naming it', () => {
    const p = plan(desired, { ...observedOf([], { volumes: [] }), foreignDataVolumes: new Map([['ss.demo.a.vol.data', { name: 'ss.demo.a.vol.data', environment: 'a', labels: {} }]]) });
    expect(p.changes).toEqual([]);
    expect(p.diagnostics.map((x) => x.message)).toContain(
      "environment 'a': volume ss.demo.a.vol.data already exists and was not created by sandboxshift (no labels); it is not mounted at /data/agent or changed",
    );
  });

  it('one dropped from the config is named and kept', () => {
    const p = plan(desired, withData(observedOf([applied(d)]), 'a', ['cache', 'data', 'old']));
    expect(p.diagnostics.map((x) => x.message)).toEqual(["volume ss.demo.a.vol.old of environment 'a' is no longer under its volumes ('old' removed); the volume is kept, no longer mounted"]);
    expect(p.changes.some((c) => c.steps.includes('remove-volume' as never))).toBe(false);
  });

  it('destroy keeps them; --purge-volumes deletes them, but never when protected', () => {
    const observed = withData(observedOf([applied(d)]), 'a', ['cache', 'data']);
    expect(only(planDestroy(desired, observed).changes).volumes?.map((v) => v.action)).toEqual(['keep', 'keep']);
    const purge = only(planDestroy(desired, observed, { purgeVolumes: true }).changes);
    expect(purge.steps).toContain('remove-volume');
    expect(purge.volumes?.map((v) => v.action)).toEqual(['delete', 'delete']);
    expect(purge.security).toEqual(['/workspace volume will be DELETED', 'volumes ss.demo.a.vol.cache, ss.demo.a.vol.data will be DELETED']);

    const guarded = planDestroy(desired, withData(observedOf([applied(d)], { volumes: [] }), 'a', ['data'], true), { purgeVolumes: true });
    expect(guarded.diagnostics.map((x) => x.message)).toEqual(["environment 'a' is protected (protect: true); --purge-volumes will not delete its volume ss.demo.a.vol.data"]);
  });

  it('left without a container or workspace, they are purged as leftovers', () => {
    const p = planDestroy(desiredOf([]), withData(observedOf([], { volumes: [] }), 'gone', ['data']), { purgeVolumes: true });
    expect(only(p.changes)).toMatchObject({ kind: 'delete', volumeName: '', steps: ['remove-volume'], volumes: [{ name: 'data', action: 'delete', path: null }] });
  });
});

describe('security drift of extra volumes and a host workspace', () => {
  const d = desiredOf([env('a', { volumes: { data: '/data/agent' } })]).environments.get('a')!;
  const workspace = { type: 'volume', name: d.volumeName, source: '', target: '/workspace', readOnly: false };

  it('finds nothing when every volume is mounted as made, and names one missing or replaced', () => {
    const data = { type: 'volume', name: 'ss.demo.a.vol.data', source: '', target: '/data/agent', readOnly: false };
    expect(securityDrift('demo', applied(d, { isolation: { networkMode: 'none', networks: ['none'], mounts: [workspace, data] } }), true).reasons).toEqual([]);
    const swapped = { ...data, type: 'bind', name: null, source: '/etc' };
    expect(securityDrift('demo', applied(d, { isolation: { networkMode: 'none', networks: ['none'], mounts: [workspace, swapped] } }), true).reasons.map((r) => r.message)).toEqual([
      'changed outside sandboxshift: /data/agent is host path /etc (config: volume ss.demo.a.vol.data)',
    ]);
    expect(securityDrift('demo', applied(d, { isolation: { networkMode: 'none', networks: ['none'], mounts: [workspace] } }), true).reasons.map((r) => r.message)).toEqual([
      'changed outside sandboxshift: nothing mounted at /data/agent (config: volume ss.demo.a.vol.data)',
    ]);
  });
});
