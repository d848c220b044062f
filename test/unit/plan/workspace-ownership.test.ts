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
      message: 'never started: an earlier apply was interrupted or failed before it finished (it is made again, secrets and start included)',
    });
    expect(c.steps).toEqual(['remove-container', 'create-container', 'copy-secrets', 'start']);
    expect(c).toMatchObject({ workspace: 'keep' });
  });

  it('records a fill before the first write and clears it after the last', () => {
    const desired = desiredOf([seeded('a')]);
    const c = plan(desired, observedOf([], { volumes: [] })).changes[0]!;
    expect(c.steps).toEqual(['mark-filling', 'create-container', 'seed-workspace', 'mark-filled', 'start']);
  });

  it('fills again, into the same volume, when a fill never finished: nothing is deleted', () => {
    const desired = desiredOf([seeded('a')]);
    const c = plan(desired, observedOf([applied(desired.environments.get('a')!, { state: 'created' })], { filling: ['a'] })).changes[0]!;
    expect(c.kind).toBe('replace');
    expect(c.steps).toEqual(['remove-container', 'mark-filling', 'create-container', 'seed-workspace', 'mark-filled', 'start']);
    expect(c.steps).not.toContain('remove-volume');
    expect(c.reasons.map((r) => r.message)).toContain(
      'its /workspace was never completely filled (an earlier apply was interrupted): the seed is done again into it (files of the same name overwritten, nothing deleted)',
    );
  });

  it('makes a started container again when its fill never finished (started by hand after a kill)', () => {
    const desired = desiredOf([seeded('a')]);
    const c = plan(desired, observedOf([applied(desired.environments.get('a')!)], { filling: ['a'] })).changes[0]!;
    expect(c.kind).toBe('replace');
    expect(c.steps).toEqual(['remove-container', 'mark-filling', 'create-container', 'seed-workspace', 'mark-filled', 'start']);
    expect(c.reasons.map((r) => r.code)).toEqual(['incomplete']);
  });

  it('still fills again after the half-made container was removed (destroy, docker rm)', () => {
    const desired = desiredOf([seeded('a')]);
    const c = plan(desired, observedOf([], { volumes: ['a'], filling: ['a'] })).changes[0]!;
    expect(c.kind).toBe('create');
    expect(c).toMatchObject({ workspace: 'reuse' });
    expect(c.steps).toEqual(['mark-filling', 'create-container', 'seed-workspace', 'mark-filled', 'start']);
    expect(c.reasons[1]?.code).toBe('incomplete');
  });

  it('never fills a workspace whose fill finished, container or not', () => {
    const desired = desiredOf([seeded('a')]);
    expect(plan(desired, observedOf([], { volumes: ['a'] })).changes[0]!.steps).toEqual(['create-container', 'start']);
    const stopped = plan(desired, observedOf([applied(desired.environments.get('a')!, { state: 'exited', status: 'Exited (0)' })])).changes[0]!;
    expect(stopped.kind).toBe('start');
    expect(stopped.steps).toEqual(['start']);
  });

  it('only clears the record when the config no longer fills the workspace', () => {
    const desired = desiredOf([env('a')]);
    const c = plan(desired, observedOf([applied(desired.environments.get('a')!)], { filling: ['a'] })).changes[0]!;
    expect(c.kind).toBe('update');
    expect(c.steps).toEqual(['mark-filled']);
    expect(c.reasons.map((r) => r.message)).toEqual(['its /workspace was never completely filled (an earlier apply was interrupted), and the config no longer fills it: it is kept as it is']);
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
        "if it holds this environment's files (e.g. restored from a backup), adopt it as they are with workspace: { adopt: true }; otherwise move it away: docker volume rm ss.demo.a.workspace (after saving what you need)",
      ],
    ]);
  });

  it('adopts it as it is when asked: mounted, nothing seeded', () => {
    const desired = desiredOf([env('a', { workspace: { adopt: true } })]);
    const p = plan(desired, observedOf([], { volumes: [], foreign: ['a'] }));
    const c = p.changes[0]!;
    expect(p.diagnostics).toEqual([]);
    expect(c.kind).toBe('create');
    expect(c).toMatchObject({ workspace: 'reuse' });
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
      steps: ['mark-filling', 'create-container', 'copy-workspace', 'mark-filled', 'start'],
      dependsOn: ['environment.old'],
      movedFrom: { environment: 'old', volume: 'ss.demo.old.workspace' },
    });
    expect(renderText(planToJson(p))).toContain('workspace: new volume ss.demo.new.workspace, its files copied from ss.demo.old.workspace');
    expect(p.diagnostics.map((d) => d.message)).toEqual([
      "workspace ss.demo.old.workspace of environment 'old' is copied to 'new' (moved) by this plan and then is kept (its container is removed by this plan)",
    ]);
  });

  it('does nothing more once the renamed environment has its own workspace', () => {
    const now = desiredOf([env('new')], {}, { moved: [{ from: 'old', to: 'new' }] });
    const p = plan(now, observedOf([applied(now.environments.get('new')!)], { volumes: ['new', 'old'], movedFrom: { new: 'old' } }));
    expect(p.changes.map((c) => c.kind)).toEqual(['no-op']);
    expect(p.diagnostics.map((d) => d.message)).toEqual(["workspace ss.demo.old.workspace of environment 'old' was copied to 'new' (moved) and is kept"]);
  });

  it('says a copy cut short is not done yet, and finishes it into the same volume', () => {
    const now = desiredOf([env('new')], {}, { moved: [{ from: 'old', to: 'new' }] });
    const p = plan(now, observedOf([], { volumes: ['new', 'old'], movedFrom: { new: 'old' }, filling: ['new'] }));
    expect(p.changes[0]).toMatchObject({ kind: 'create', workspace: 'reuse', steps: ['mark-filling', 'create-container', 'copy-workspace', 'mark-filled', 'start'] });
    expect(p.diagnostics.map((d) => d.message)).toEqual([
      "workspace ss.demo.old.workspace of environment 'old' is being copied to 'new' (moved; an earlier apply was interrupted and the next one finishes it) and is kept",
    ]);
  });

  it('refuses a move into an environment that already has its own workspace', () => {
    const now = desiredOf([env('new')], {}, { moved: [{ from: 'old', to: 'new' }] });
    const p = plan(now, observedOf([applied(now.environments.get('new')!)], { volumes: ['new', 'old'] }));
    expect(p.diagnostics.map((d) => `${d.severity}: ${d.message}`)).toContain(
      "error: moved: 'new' already has its own workspace ss.demo.new.workspace, so 'old' (ss.demo.old.workspace) is not copied into it",
    );
  });

  it('warns when a moved entry names no workspace on the engine', () => {
    const now = desiredOf([env('new')], {}, { moved: [{ from: 'olf', to: 'new' }] });
    const p = plan(now, observedOf([], { volumes: [] }));
    expect(p.diagnostics.map((d) => `${d.severity}: ${d.message}`)).toEqual(["warning: moved: no workspace of 'olf' is on the engine, so 'new' starts with a new one"]);
    expect(p.changes[0]?.reasons[0]?.message).toBe('new environment');
  });

  it('copies from a volume the old environment had adopted', () => {
    const now = desiredOf([env('new')], {}, { moved: [{ from: 'old', to: 'new' }] });
    const p = plan(now, observedOf([], { volumes: [], foreign: ['old'] }));
    expect(p.changes[0]).toMatchObject({ steps: ['mark-filling', 'create-container', 'copy-workspace', 'mark-filled', 'start'], movedFrom: { environment: 'old', volume: 'ss.demo.old.workspace' } });
  });

  it('refuses --target of the new name alone while the old container still runs', () => {
    const old = desiredOf([env('old')]);
    const now = desiredOf([env('new')], {}, { moved: [{ from: 'old', to: 'new' }] });
    const p = plan(now, observedOf([applied(old.environments.get('old')!)]), { targets: ['new'] });
    expect(p.diagnostics.map((d) => d.message)).toContain("--target new: its workspace is copied from 'old' (moved), whose container must stop first");
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
