// observedFromDesired: the engine as a config would leave it. Planning the same config against
// it must find nothing to do; planning another config must give the actions apply would take.
import { describe, expect, it } from 'vitest';
import { observedFromDesired, plan } from '../../../src/plan/index.js';
import { planToJson, renderText } from '../../../src/render/index.js';
import type { DesiredState } from '../../../src/model/desired.js';
import { desiredOf, env } from './fixtures.js';

const allow = (...list: string[]) => ({ egress: { mode: 'allow' as const, allow: list } });

/** The desired state with one image turned into a built one (no files read). */
function withBuiltImage(desired: DesiredState, contextFiles: Record<string, string>): DesiredState {
  const images = new Map(desired.images);
  images.set('busybox', {
    ...images.get('busybox')!,
    build: { context: '/repo/app', dockerfile: 'Dockerfile', args: {}, digest: { hash: 'f'.repeat(64), files: contextFiles }, repo: 'sandboxshift/demo-busybox' },
  });
  return { ...desired, images };
}

describe('observedFromDesired', () => {
  it('leaves nothing to do for the config it was made from, egress included', () => {
    const desired = desiredOf([
      env('a', { env: { ROLE: 'coder' }, resources: { cpus: 2, memoryBytes: 1024 ** 3, pids: 100 }, protect: true }),
      env('b', { ...allow('pypi.org', '*.github.com'), runtime: 'runsc' }),
      env('c', allow('api.example.com:8443')),
    ]);
    const observed = observedFromDesired(desired);
    const p = plan(desired, observed);
    expect(p.diagnostics).toEqual([]);
    expect(p.changes.map((c) => [c.address, c.kind])).toEqual([
      ['environment.a', 'no-op'],
      ['environment.b', 'no-op'],
      ['environment.c', 'no-op'],
    ]);
    expect(renderText(planToJson(p))).toContain('No changes. 3 environments match the configuration.');
  });

  it('records each environment as running, with its volume, image, network and proxy', () => {
    const desired = desiredOf([env('a', { protect: true }), env('b', allow('pypi.org'))]);
    const observed = observedFromDesired(desired);
    const a = observed.containers.get('a')!;
    expect(a).toMatchObject({ name: 'ss.demo.a', state: 'running', configHash: desired.environments.get('a')!.configHash, protect: true });
    expect(a.spec).toEqual(desired.environments.get('a')!.spec);
    expect(a.spec).not.toBe(desired.environments.get('a')!.spec);
    expect(observed.images.get('sandboxshift/busybox:test')?.id).toBe(a.imageId);
    expect([...observed.volumes.values()]).toEqual([
      { name: 'ss.demo.a.workspace', environment: 'a', protect: true, movedFrom: null },
      { name: 'ss.demo.b.workspace', environment: 'b', protect: false, movedFrom: null },
    ]);
    expect(observed.networks.get('b')).toEqual({ id: 'ss.demo.b.net', name: 'ss.demo.b.net', subnets: ['10.213.223.48/28'], gatewayIsolated: true }); // the first block from project demo's start in the pool
    expect(observed.proxies.get('b')).toMatchObject({ name: 'ss.demo.b.egress', state: 'running', allow: ['pypi.org'], image: desired.images.get('sandboxshift-egress')!.ref });
    expect(observed.outsideNetwork).toBe(true);
    expect(observed.networks.has('a')).toBe(false);
    expect(observed.runtimes).toEqual(['runc']);
  });

  it('gives the actions apply would take from one config to another', () => {
    const from = desiredOf([env('changed'), env('widened', allow('pypi.org')), env('removed'), env('resized')]);
    const to = desiredOf([
      env('changed', { env: { ROLE: 'reviewer' } }),
      env('widened', allow('pypi.org', 'evil.example')),
      env('added'),
      env('resized', { resources: { cpus: 2, memoryBytes: 512 * 1024 ** 2, pids: 256 } }),
    ]);
    const p = plan(to, observedFromDesired(from));
    // The removed environment's workspace stays, and the plan says so (and guesses a rename).
    expect(p.diagnostics.map((d) => `${d.severity}: ${d.message}`)).toEqual([
      "warning: workspace ss.demo.removed.workspace belongs to no environment in the config: 'removed' was removed or renamed (its container is removed by this plan); the volume is kept",
    ]);
    expect(p.diagnostics[0]?.hint).toContain('add moved: [{ from: removed, to: added }]');
    const byAddress = Object.fromEntries(p.changes.map((c) => [c.address, c]));
    expect(byAddress['environment.changed']).toMatchObject({ kind: 'replace', dataEffect: 'recreate' });
    expect(byAddress['environment.changed']!.reasons.map((r) => r.message)).toEqual(['env.ROLE added']);
    expect(byAddress['environment.widened']).toMatchObject({ kind: 'update', steps: ['reload-egress-policy'], security: ['egress widened: evil.example'] });
    expect(byAddress['environment.added']).toMatchObject({ kind: 'create', workspace: 'create' });
    expect(byAddress['environment.removed']).toMatchObject({ kind: 'delete', dataEffect: 'delete-keeps-workspace', steps: ['remove-container'] });
    expect(byAddress['environment.resized']).toMatchObject({ kind: 'update', steps: ['update-resources'] });
    expect(p.changes.some((c) => c.type === 'image' || c.type === 'network')).toBe(false);
  });

  it('takes runtimes and images the other config needs as offered, so no engine check fails', () => {
    const from = desiredOf([env('a')]);
    const to = desiredOf([env('a', { runtime: 'runsc' })]);
    expect(plan(to, observedFromDesired(from)).diagnostics.map((d) => d.message)).toEqual(["runtime 'runsc' is not offered by the engine (it has: runc); wanted by a"]);
    const observed = observedFromDesired(from, { runtimes: ['runsc'], images: ['other/image:1'] });
    expect(observed.runtimes).toEqual(['runc', 'runsc']);
    expect(observed.images.has('other/image:1')).toBe(true);
    const p = plan(to, observed);
    expect(p.diagnostics).toEqual([]);
    expect(p.changes[0]!.reasons.map((r) => r.message)).toEqual(['runtime changed: runc → runsc']);
  });

  it('labels built images with their context files, so a rebuild names the changed files', () => {
    const from = withBuiltImage(desiredOf([env('a')]), { Dockerfile: 'aaaa', 'app.py': 'bbbb' });
    const observed = observedFromDesired(from);
    expect(observed.images.get('sandboxshift/busybox:test')?.build).toEqual({ project: 'demo', image: 'busybox', contextFiles: { Dockerfile: 'aaaa', 'app.py': 'bbbb' } });
    const to = withBuiltImage(desiredOf([env('a')]), { Dockerfile: 'aaaa', 'app.py': 'cccc' });
    const images = new Map(to.images);
    images.set('busybox', { ...images.get('busybox')!, ref: 'sandboxshift/demo-busybox:ctx-222222222222' });
    const p = plan({ ...to, images }, observed);
    expect(p.changes.map((c) => [c.address, c.kind, c.reasons.map((r) => r.message)])).toEqual([
      ['image.busybox', 'create', ['context changed: app.py']],
      ['environment.a', 'no-op', []],
    ]);
  });
});
