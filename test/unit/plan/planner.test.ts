// Golden tests of the pure planner: literal observed states in, the text plan out.
import { describe, expect, it } from 'vitest';
import { plan, planDestroy } from '../../../src/plan/index.js';
import { planToJson, renderText } from '../../../src/render/index.js';
import { applied, desiredOf, env, observedOf } from './fixtures.js';

const text = (p: ReturnType<typeof plan>) => renderText(planToJson(p));

describe('planner', () => {
  it('creates everything on an empty engine', () => {
    const desired = desiredOf([env('agent', { env: { ROLE: 'coder' }, secrets: { api_key: { fromEnv: 'KEY' } } })], { KEY: 'hunter2' });
    expect(text(plan(desired, observedOf([])))).toBe(`SandboxShift plan for project "demo"

Symbols: + create, ~ update in place, > start, -/+ replace, - destroy

  + environment.agent will be created
      image:     sandboxshift/busybox:test
      runtime:   runc, user 65532:65532, network none
      resources: 1 cpu, 512 MiB, 256 pids
      env:       ROLE
      secrets:   api_key (values hidden)
      egress:    none (no network)
      because:   new environment
      data:      none
      workspace: new volume ss.demo.agent.workspace

Plan: 1 to add, 0 to change, 0 to destroy.
`);
  });

  it('has nothing to do when the engine matches', () => {
    const desired = desiredOf([env('a'), env('b')]);
    const p = plan(desired, observedOf([...desired.environments.values()].map((d) => applied(d))));
    expect(p.changes.map((c) => c.kind)).toEqual(['no-op', 'no-op']);
    expect(text(p)).toBe('SandboxShift plan for project "demo"\n\nNo changes. 2 environments match the configuration.\n');
  });

  it('replaces with attribute reasons, hiding secret values', () => {
    const old = desiredOf([env('agent', { env: { A: '1', B: '2' }, secrets: { tok: { fromEnv: 'T' } } })], { T: 'old-secret' });
    const now = desiredOf([env('agent', { env: { A: '9', C: '3' }, secrets: { tok: { fromEnv: 'T' } }, runtime: 'runsc' })], { T: 'new-secret' });
    const p = plan(now, observedOf([applied(old.environments.get('agent')!)]));
    const c = p.changes[0]!;
    expect(c.actions).toEqual(['delete', 'create']);
    expect(c.dataEffect).toBe('recreate');
    expect(c.steps).toEqual(['remove-container', 'create-container', 'copy-secrets', 'start']);
    expect(c.reasons.map((r) => r.message)).toEqual(['env.A changed', 'env.B removed', 'env.C added', 'secret tok changed (value hidden)', 'runtime changed: runc → runsc']);
    const json = JSON.stringify(planToJson(p));
    expect(json).not.toContain('old-secret');
    expect(json).not.toContain('new-secret');
  });

  it('replaces when the image tag moved to a new image', () => {
    const desired = desiredOf([env('agent')]);
    const p = plan(desired, observedOf([applied(desired.environments.get('agent')!)], { imageId: 'sha256:2222222222222222' }));
    expect(p.changes[0]!.kind).toBe('replace');
    expect(p.changes[0]!.reasons[0]!.message).toBe('image sandboxshift/busybox:test now points to 222222222222 (container runs 111111111111)');
  });

  it('updates limits in place and starts a stopped container', () => {
    const old = desiredOf([env('a'), env('b')]);
    const now = desiredOf([env('a', { resources: { cpus: 2, memoryBytes: 1024 ** 3, pids: 256 } }), env('b')]);
    const p = plan(now, observedOf([applied(old.environments.get('a')!), applied(old.environments.get('b')!, { state: 'exited', status: 'Exited (137) 2 minutes ago' })]));
    expect(text(p)).toContain(`  ~ environment.a will be updated in place
      because:   resources.cpus 1 → 2
                 resources.memory 512 MiB → 1 GiB
      data:      none`);
    expect(text(p)).toContain(`  > environment.b will be started
      because:   stopped outside sandboxshift (Exited (137) 2 minutes ago)`);
    expect(p.changes.map((c) => c.steps)).toEqual([['update-resources'], ['start']]);
  });

  it('recreates a container removed out of band, reusing its volume', () => {
    const desired = desiredOf([env('a')]);
    const p = plan(desired, observedOf([], { volumes: ['a'] }));
    expect(p.changes[0]!.reasons[0]!.code).toBe('missing');
    expect(p.changes[0]!).toMatchObject({ workspace: 'reuse' });
  });

  it('deletes environments removed from the config, keeping the workspace', () => {
    const old = desiredOf([env('a'), env('gone')]);
    const p = plan(desiredOf([env('a')]), observedOf([...old.environments.values()].map((d) => applied(d))));
    const gone = p.changes.find((c) => c.name === 'gone')!;
    expect(gone.actions).toEqual(['delete']);
    expect(gone.dataEffect).toBe('delete-keeps-workspace');
    expect(gone.steps).toEqual(['remove-container']);
  });

  it('limits the plan to --target and rejects unknown targets', () => {
    const desired = desiredOf([env('a'), env('b')]);
    expect(plan(desired, observedOf([]), { targets: ['b'] }).changes.map((c) => c.name)).toEqual(['b']);
    const bad = plan(desired, observedOf([]), { targets: ['nope'] });
    expect(bad.diagnostics[0]!.message).toBe('--target nope: no environment of that name in the config or on the engine');
  });

  it('refuses a runtime or an image the engine does not have', () => {
    const desired = desiredOf([env('a', { runtime: 'runsc' }), env('b', { runtime: 'runsc' })]);
    const observed = { ...observedOf([], { runtimes: ['runc'] }), images: new Map() };
    const msgs = plan(desired, observed).diagnostics.map((d) => d.message);
    expect(msgs).toEqual(["image 'busybox' (sandboxshift/busybox:test) is not on the engine; wanted by a, b", "runtime 'runsc' is not offered by the engine (it has: runc); wanted by a, b"]);
  });

  it("refuses limits above the engine's CPUs and memory, and checks none without an engine", () => {
    const desired = desiredOf([env('big', { resources: { cpus: 4, memoryBytes: 64 * 1024 ** 3, pids: 256 } }), env('small')]);
    const observed = { ...observedOf([]), capacity: { cpus: 2, memoryBytes: 25_135_218_688 } };
    expect(plan(desired, observed).diagnostics.map((d) => [d.message, d.path, d.hint])).toEqual([
      ["environment 'big' asks for 4 cpus, but the engine has 2", 'environments.big.resources.cpus', 'lower resources.cpus to at most 2, or use an engine with more CPUs'],
      [
        "environment 'big' asks for 64 GiB of memory, but the engine has 23.4 GiB",
        'environments.big.resources.memory',
        'lower resources.memory (the engine has 23.4 GiB in all), or use an engine with more memory',
      ],
    ]);
    expect(plan(desired, observedOf([])).diagnostics).toEqual([]);
  });

  it('plans a container renamed outside sandboxshift back to its name, in place', () => {
    const desired = desiredOf([env('a')]);
    const observed = observedOf([applied(desired.environments.get('a')!, { name: 'my-copy' })]);
    const p = plan(desired, observed);
    expect(p.diagnostics).toEqual([]);
    expect(p.changes.map((c) => [c.kind, c.steps, c.dataEffect, c.reasons, c.type === 'environment' ? c.containerName : null])).toEqual([
      ['update', ['rename-container'], 'none', [{ code: 'renamed', message: 'renamed outside sandboxshift to my-copy' }], 'ss.demo.a'],
    ]);
    expect(text(p)).toContain('~ environment.a will be updated in place');
    expect(text(p)).toContain('renamed outside sandboxshift to my-copy');
  });

  it('says so when the name of a renamed container was taken by another one, and plans no rename', () => {
    const desired = desiredOf([env('a')]);
    const observed = { ...observedOf([applied(desired.environments.get('a')!, { name: 'my-copy' })]), nameHolders: new Map([['ss.demo.a', 'f00d'.padEnd(64, '0')]]) };
    const p = plan(desired, observed);
    expect(p.diagnostics.map((d) => [d.severity, d.message, d.hint])).toEqual([
      [
        'error',
        "environment 'a' was renamed outside sandboxshift to my-copy, and its name ss.demo.a is now taken by another container (f00d00000000)",
        'rename or remove that container (docker rename f00d00000000 NEW_NAME), then plan again; sandboxshift will rename my-copy back',
      ],
    ]);
    expect(p.changes.flatMap((c) => c.steps)).not.toContain('rename-container');
  });

  it('destroy keeps volumes, purges them on request, and refuses to purge a protected one', () => {
    const desired = desiredOf([env('a'), env('safe', { protect: true })]);
    const observed = observedOf([...desired.environments.values()].map((d) => applied(d)));
    const keep = planDestroy(desired, observed);
    expect(keep.changes.map((c) => [c.name, c.dataEffect])).toEqual([
      ['a', 'delete-keeps-workspace'],
      ['safe', 'delete-keeps-workspace'],
    ]);
    const purge = planDestroy(desired, observed, { purgeVolumes: true });
    expect(purge.diagnostics.map((d) => d.severity)).toEqual(['error']);
    expect(purge.diagnostics[0]!.message).toContain("environment 'safe' is protected");
    const purgeA = planDestroy(desired, observed, { purgeVolumes: true, targets: ['a'] });
    expect(purgeA.diagnostics).toEqual([]);
    expect(purgeA.changes[0]!.steps).toEqual(['remove-container', 'remove-volume']);
    expect(purgeA.changes[0]!.dataEffect).toBe('destroys-workspace');
  });

  it('destroy rejects an unknown --target, as plan does', () => {
    const desired = desiredOf([env('a')]);
    const observed = observedOf([...desired.environments.values()].map((d) => applied(d)));
    const bad = planDestroy(desired, observed, { targets: ['nope'] });
    expect(bad.diagnostics.map((d) => [d.severity, d.message, d.hint])).toEqual([['error', '--target nope: no environment of that name in the config or on the engine', 'known environments: a']]);
  });
});
