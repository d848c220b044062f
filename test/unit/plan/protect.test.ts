// protect changes are planned and recorded: pure planner tests with literal protect records.
import { describe, expect, it } from 'vitest';
import type { ObservedProtectRecord } from '../../../src/model/isolation.js';
import type { ObservedState } from '../../../src/model/observed.js';
import { hasChanges, plan, planDestroy } from '../../../src/plan/index.js';
import { effectiveProtect } from '../../../src/plan/protect.js';
import { planToJson, renderText } from '../../../src/render/index.js';
import { applied, desiredOf, env, observedOf } from './fixtures.js';

function withRecords(observed: ObservedState, ...records: Array<[env: string, protect: boolean]>): ObservedState {
  const map = new Map<string, ObservedProtectRecord[]>();
  for (const [e, protect] of records) {
    const name = `ss.demo.${e}.protect-${protect ? 'on' : 'off'}`;
    map.set(e, [...(map.get(e) ?? []), { id: `id-${name}`, name, environment: e, protect }]);
  }
  return { ...observed, protectRecords: map };
}

/** An engine where `name` was applied with protect `created` (container and volume labels). */
function appliedWith(name: string, created: boolean): ObservedState {
  const d = desiredOf([env(name, { protect: created })]).environments.get(name)!;
  const o = observedOf([applied(d)]);
  return { ...o, volumes: new Map([[name, { name: d.volumeName, environment: name, protect: created, movedFrom: null }]]) };
}

describe('protect', () => {
  it('turned on later is an in-place update that records it, nothing restarts', () => {
    const p = plan(desiredOf([env('a', { protect: true })]), appliedWith('a', false));
    const c = p.changes[0]!;
    expect([c.kind, c.dataEffect, c.steps, c.security]).toEqual(['update', 'none', ['record-protect'], []]);
    expect(c.reasons).toEqual([{ code: 'attribute_changed', attribute: 'protect', message: 'protect: false → true (recorded on the engine; nothing restarts)' }]);
    expect(hasChanges(p)).toBe(true);
    expect(renderText(planToJson(p))).toContain('  ~ environment.a will be updated in place\n      because:   protect: false → true (recorded on the engine; nothing restarts)\n');
  });

  it('turned off is a security-relevant update', () => {
    const p = plan(desiredOf([env('a')]), appliedWith('a', true));
    const c = p.changes[0]!;
    expect([c.kind, c.steps, c.security]).toEqual(['update', ['record-protect'], ['protect removed']]);
    expect(c).toMatchObject({ before: { protect: true }, after: { protect: false } });
  });

  it('a record overrides the creation labels, both ways', () => {
    expect(plan(desiredOf([env('a', { protect: true })]), withRecords(appliedWith('a', false), ['a', true])).changes[0]!.kind).toBe('no-op');
    expect(plan(desiredOf([env('a')]), withRecords(appliedWith('a', true), ['a', false])).changes[0]!.kind).toBe('no-op');
    expect(effectiveProtect('a', withRecords(appliedWith('a', true), ['a', false]))).toBe(false);
    expect(effectiveProtect('nothing', appliedWith('a', true))).toBeNull();
  });

  it('two records (an interrupted change) read as protected and are written again', () => {
    const both = withRecords(appliedWith('a', false), ['a', false], ['a', true]);
    expect(effectiveProtect('a', both)).toBe(true);
    const off = plan(desiredOf([env('a')]), both).changes[0]!;
    expect([off.steps, off.security, off.reasons[0]!.message]).toEqual([['record-protect'], ['protect removed'], 'protect: true → false (recorded on the engine; nothing restarts)']);
    const on = plan(desiredOf([env('a', { protect: true })]), both).changes[0]!;
    expect([on.steps, on.security, on.reasons[0]!.message]).toEqual([['record-protect'], [], 'protect record left half-written by an interrupted apply; recorded again as true']);
  });

  it('two records that agree (one renamed by hand) need no rewrite', () => {
    const same = withRecords(appliedWith('a', false), ['a', true], ['a', true]);
    expect(plan(desiredOf([env('a', { protect: true })]), same).changes[0]!.kind).toBe('no-op');
  });

  it('a replace writes the record too, and says protect removed once', () => {
    const p = plan(desiredOf([env('a', { env: { X: '1' } })]), appliedWith('a', true));
    const c = p.changes[0]!;
    expect(c.kind).toBe('replace');
    expect(c.steps).toEqual(['record-protect', 'remove-container', 'create-container', 'start']);
    expect(c.security).toEqual(['protect removed']);
  });

  it('destroy --purge-volumes follows the record, not the creation labels', () => {
    // Created unprotected, protected later, then removed from the config: still refused.
    const protectedLater = withRecords(appliedWith('a', false), ['a', true]);
    const refused = planDestroy(desiredOf([]), protectedLater, { purgeVolumes: true });
    expect(refused.diagnostics.map((d) => d.message)).toEqual(["environment 'a' is protected (protect: true); --purge-volumes will not delete its /workspace volume ss.demo.a.workspace"]);
    // Created protected, unprotected and applied later: purged, the volume before its records.
    const unprotectedLater = withRecords(appliedWith('a', true), ['a', false]);
    const purged = planDestroy(desiredOf([env('a')]), unprotectedLater, { purgeVolumes: true });
    expect(purged.diagnostics).toEqual([]);
    expect(purged.changes[0]!.steps).toEqual(['remove-container', 'remove-volume', 'remove-protect-record']);
    // Not applied yet: the config's protect: true still refuses.
    expect(planDestroy(desiredOf([env('a', { protect: true })]), unprotectedLater, { purgeVolumes: true }).diagnostics).toHaveLength(1);
  });

  it('records stay with a kept volume and go with a gone one', () => {
    const kept = planDestroy(desiredOf([]), withRecords(appliedWith('a', false), ['a', true]));
    expect(kept.changes[0]!.steps).toEqual(['remove-container']);
    const removed = plan(desiredOf([]), withRecords(appliedWith('a', false), ['a', true]));
    expect(removed.changes[0]!.steps).toEqual(['remove-container']);
    const leftover = planDestroy(desiredOf([]), withRecords(observedOf([]), ['gone', false]));
    expect(leftover.changes.map((c) => [c.address, c.kind, c.steps])).toEqual([['environment.gone', 'delete', ['remove-protect-record']]]);
  });
});
