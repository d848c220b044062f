// Whose /workspace is whose: half-made environments, volumes we did not create, renames.
import { describe, expect, it } from 'vitest';
import { plan } from '../../../src/plan/index.js';
import { planToJson, renderText } from '../../../src/render/index.js';
import { applied, desiredOf, env, observedOf } from './fixtures.js';

// A git seed: planning never clones, so no folder has to exist for these pure tests.
const seeded = (name: string) => env(name, { workspace: { git: { url: 'https://git.example/repo.git' } } });

describe('half-made environments', () => {
  it('replaces a never-started container and redoes its secrets and start', () => {
    const desired = desiredOf([env('a', { secrets: { k: { fromEnv: 'K' } } })], { K: 'v' });
    const p = plan(desired, observedOf([applied(desired.environments.get('a')!, { state: 'created', status: 'Created' })]));
    const c = p.changes[0]!;
    expect(c.kind).toBe('replace');
    expect(c.reasons[0]).toEqual({
      code: 'incomplete',
      message: 'never started: an earlier apply was interrupted or failed before it finished (secrets, workspace and start are redone)',
    });
    expect(c.steps).toEqual(['remove-container', 'create-container', 'copy-secrets', 'start']);
    expect(c.workspace).toBe('keep');
  });

  it('makes the workspace again when it was born in the interrupted create, so a half-done seed is redone', () => {
    const desired = desiredOf([seeded('a')]);
    const c0 = applied(desired.environments.get('a')!, { state: 'created', createId: 'id-1' });
    const c = plan(desired, observedOf([c0], { volumeCreateId: 'id-1' })).changes[0]!;
    expect(c.steps).toEqual(['remove-container', 'remove-volume', 'create-container', 'seed-workspace', 'start']);
    expect(c.workspace).toBe('create');
    expect(c.reasons[0]?.message).toContain('its /workspace volume, made by that same apply and never used, is made and filled again');
  });

  it('never removes a volume that existed before the interrupted create', () => {
    const desired = desiredOf([seeded('a')]);
    const c0 = applied(desired.environments.get('a')!, { state: 'created', createId: 'id-2' });
    const c = plan(desired, observedOf([c0], { volumeCreateId: 'id-1' })).changes[0]!;
    expect(c.steps).toEqual(['remove-container', 'create-container', 'start']);
    expect(c.workspace).toBe('keep');
  });

  it('leaves a started and stopped container alone but for a start', () => {
    const desired = desiredOf([seeded('a')]);
    const c = plan(desired, observedOf([applied(desired.environments.get('a')!, { state: 'exited', status: 'Exited (0)', createId: 'x' })], { volumeCreateId: 'x' })).changes[0]!;
    expect(c.kind).toBe('start');
    expect(c.steps).toEqual(['start']);
  });
});

describe('volumes sandboxshift did not create', () => {
  it('refuses to mount or seed over a look-alike volume, and says how to adopt it', () => {
    const desired = desiredOf([seeded('a')]);
    const p = plan(desired, observedOf([], { volumes: [], foreign: ['a'] }));
    expect(p.changes.filter((c) => c.type === 'environment')).toEqual([]);
    expect(p.diagnostics.map((d) => [d.severity, d.message, d.hint])).toEqual([
      [
        'error',
        "environment 'a': volume ss.demo.a.workspace already exists and was not created by sandboxshift (no labels); it is not mounted, seeded or changed",
        'if it holds this environment\'s files (e.g. restored from a backup), adopt it as they are with workspace: { adopt: true }; otherwise move it away: docker volume rm ss.demo.a.workspace (after saving what you need)',
      ],
    ]);
  });

  it('adopts it as it is when asked: mounted, nothing seeded', () => {
    const desired = desiredOf([env('a', { workspace: { adopt: true } })]);
    const p = plan(desired, observedOf([], { volumes: [], foreign: ['a'] }));
    const c = p.changes[0]!;
    expect(p.diagnostics).toEqual([]);
    expect(c.kind).toBe('create');
    expect(c.workspace).toBe('reuse');
    expect(c.steps).toEqual(['create-container', 'start']);
    expect(renderText(planToJson(p))).toContain('workspace: existing volume ss.demo.a.workspace adopted as it is');
  });
});

describe('moved', () => {
  it('copies the old workspace into the renamed environment after the old container is gone, and keeps the old volume', () => {
    const old = desiredOf([env('old')]);
    const now = desiredOf([env('new')], {}, { moved: [{ from: 'old', to: 'new' }] });
    const p = plan(now, observedOf([applied(old.environments.get('old')!)]));
    const byAddress = Object.fromEntries(p.changes.map((c) => [c.address, c]));
    expect(byAddress['environment.old']).toMatchObject({ kind: 'delete', steps: ['remove-container'], workspace: 'keep' });
    expect(byAddress['environment.old']?.reasons[0]?.message).toBe('moved to environment.new (moved): container removed; /workspace volume kept and copied');
    expect(byAddress['environment.new']).toMatchObject({
      kind: 'create',
      steps: ['create-container', 'copy-workspace', 'start'],
      dependsOn: ['environment.old'],
      movedFrom: { environment: 'old', volume: 'ss.demo.old.workspace' },
    });
    expect(renderText(planToJson(p))).toContain('workspace: new volume ss.demo.new.workspace, its files copied from ss.demo.old.workspace');
    expect(p.diagnostics.map((d) => d.message)).toEqual([
      "workspace ss.demo.old.workspace of environment 'old' is copied to 'new' (moved) and then is kept (its container is removed by this plan)",
    ]);
  });

  it('does nothing more once the renamed environment has its own workspace', () => {
    const now = desiredOf([env('new')], {}, { moved: [{ from: 'old', to: 'new' }] });
    const p = plan(now, observedOf([applied(now.environments.get('new')!)], { volumes: ['new', 'old'] }));
    expect(p.changes.map((c) => c.kind)).toEqual(['no-op']);
    expect(p.diagnostics.map((d) => d.message)).toEqual(["workspace ss.demo.old.workspace of environment 'old' was copied to 'new' (moved) and is kept"]);
  });

  it('names an orphaned workspace and guesses the rename', () => {
    const now = desiredOf([env('b')]);
    const p = plan(now, observedOf([], { volumes: ['a'] }));
    expect(p.diagnostics.map((d) => [d.message, d.hint])).toEqual([
      [
        "workspace ss.demo.a.workspace belongs to no environment in the config: 'a' was removed or renamed; the volume is kept",
        "if 'a' was renamed to 'b', add moved: [{ from: a, to: b }] so its files follow; otherwise delete it with sandboxshift destroy --purge-volumes --target a",
      ],
    ]);
  });
});

describe('a deleted workspace is security-relevant in every renderer', () => {
  it('is in the planner security list, so text, Markdown and the TUI show it first', async () => {
    const { planDestroy } = await import('../../../src/plan/index.js');
    const desired = desiredOf([env('a')]);
    const p = planDestroy(desired, observedOf([applied(desired.environments.get('a')!)], { volumes: ['a', 'gone'] }), { purgeVolumes: true });
    expect(p.changes.map((c) => [c.address, c.security])).toEqual([
      ['environment.a', ['/workspace volume will be DELETED']],
      ['environment.gone', ['/workspace volume will be DELETED']],
    ]);
    expect(renderText(planToJson(p))).toContain('! security: /workspace volume will be DELETED');
  });
});
