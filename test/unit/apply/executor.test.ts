// The executor runs exactly the plan's steps, in order per change, in parallel across changes,
// and keeps going past a failure. A recording fake stands in for dockerode.
import { hostname } from 'node:os';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import type { Docker } from '../../../src/engine/index.js';
import { executePlan, REMOVALS_IN_FLIGHT } from '../../../src/apply/executor.js';
import type { ApplyEvent } from '../../../src/apply/events.js';
import { applyEventLine, applySummary } from '../../../src/render/apply-text.js';
import { STEPS_BY_TYPE, bareChange, plan, planDestroy, type Change, type ImageChange, type Plan } from '../../../src/plan/index.js';
import { applied, desiredOf, env, observedOf } from '../plan/fixtures.js';

async function imageFileTar(path: string): Promise<NodeJS.ReadableStream> {
  const text = path === '/etc/passwd' ? 'root:x:0:0:root:/root:/bin/sh\nsandbox:x:65532:65532:sandbox:/workspace:/bin/sh\n' : 'root:x:0:\nsandbox:x:65532:\n';
  const p = pack();
  p.entry({ name: path.split('/').pop()!, size: text.length }, text);
  p.finalize();
  return p as unknown as NodeJS.ReadableStream;
}

function fakeDocker(opts: { failCreate?: string; failStop?: string; failPut?: string } = {}) {
  const calls: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const op = async (what: string) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    calls.push(what);
  };
  const container = (id: string) => ({
    start: () => op(`start ${id}`),
    stop: async () => {
      await op(`stop ${id}`);
      if (id === opts.failStop) throw Object.assign(new Error('boom'), { statusCode: 500, json: { message: 'cannot kill container: permission denied' } });
    },
    remove: () => op(`remove ${id}`),
    unpause: () => op(`unpause ${id}`),
    update: (u: { Memory: number }) => op(`update ${id} memory=${u.Memory}`),
    putArchive: async (tar: Buffer, o: { path: string }) => {
      await op(`putArchive ${id} ${o.path} ${tar.length > 0 ? 'tar' : 'empty'}`);
      if (id === opts.failPut) throw Object.assign(new Error('boom'), { statusCode: 500, json: { message: 'no space left on device' } });
    },
    // An image like busybox:test: the user 65532 exists, its home and /workspace are directories.
    getArchive: async (o: { path: string }) => imageFileTar(o.path),
    infoArchive: async () => ({
      headers: { 'x-docker-container-path-stat': Buffer.from(JSON.stringify({ mode: 2 ** 31 + 0o755, mtime: '2026-01-01T00:00:00Z' })).toString('base64') },
      resume: () => {},
    }),
  });
  const docker = {
    // Docker, as the version endpoint says it (src/engine/flavour.ts).
    version: async () => ({ Components: [{ Name: 'Engine' }] }),
    createContainer: async (o: { name: string; Image: string }) => {
      await op(`create ${o.name} ${o.Image}`);
      if (o.name === opts.failCreate) throw Object.assign(new Error('boom'), { json: { message: 'invalid mount config' } });
      return { id: `id-${o.name}` };
    },
    getContainer: container,
    getVolume: (name: string) => ({ remove: () => op(`remove-volume ${name}`) }),
  };
  return { docker: docker as unknown as Docker, calls, maxInFlight: () => maxInFlight };
}

/**
 * A fake engine that also lists (by label filter), inspects and removes networks and records,
 * so the steps that find what to remove on the engine can be checked call by call.
 */
function engineFake(state: {
  containers: Array<{ Id: string; Labels: Record<string, string> }>;
  inspect: Record<string, { Id: string; Config: { Labels: Record<string, string> } }>;
  networks: Array<{ Id: string; Name: string; Labels: Record<string, string> }>;
}) {
  const calls: string[] = [];
  const matches = (labels: Record<string, string>, filters: string[]) => filters.every((f) => labels[f.slice(0, f.indexOf('='))] === f.slice(f.indexOf('=') + 1));
  const missing = () => Object.assign(new Error('no such object'), { statusCode: 404 });
  const docker = {
    version: async () => ({ Components: [{ Name: 'Engine' }] }),
    getContainer: (id: string) => ({
      stop: async () => void calls.push(`stop ${id}`),
      unpause: async () => void calls.push(`unpause ${id}`),
      remove: async () => {
        const record = state.containers.find((c) => c.Id === id);
        if (record) state.containers = state.containers.filter((c) => c !== record);
        // Records are removed in a loop over what was listed: each list and its removals are one line.
        if (!record) calls.push(`remove ${id}`);
      },
      inspect: async () => {
        const info = state.inspect[id];
        if (!info) throw missing();
        return info;
      },
    }),
    listContainers: async (o: { filters: { label: string[] } }) => {
      const found = state.containers.filter((c) => matches(c.Labels, o.filters.label));
      const l = Object.fromEntries(o.filters.label.map((f) => f.split('=') as [string, string]));
      calls.push(`remove-records ${l['io.sandboxshift.project']}/${l['io.sandboxshift.environment']}/${l['io.sandboxshift.role']}: ${found.map((c) => c.Id).join(', ') || 'none'}`);
      return found;
    },
    listNetworks: async (o: { filters: { name: string[]; label: string[] } }) => state.networks.filter((n) => n.Name.includes(o.filters.name[0]!) && matches(n.Labels, o.filters.label)),
    getNetwork: (idOrName: string) => ({
      inspect: async () => {
        const n = state.networks.find((x) => x.Id === idOrName || x.Name === idOrName);
        if (!n) throw missing();
        return n;
      },
      remove: async () => void calls.push(`remove-network ${idOrName}`),
    }),
  };
  return { docker: docker as unknown as Docker, calls, records: () => state.containers.map((c) => c.Id) };
}

describe('executor', () => {
  it("runs each change's steps in order with the engine calls the plan names", async () => {
    const old = desiredOf([env('keep'), env('grow'), env('gone')]);
    const now = desiredOf([env('keep', { env: { X: '1' }, secrets: { tok: { fromEnv: 'T' } } }), env('grow', { resources: { cpus: 1, memoryBytes: 1024 ** 3, pids: 256 } }), env('fresh')], { T: 'v' });
    const observed = observedOf([...old.environments.values()].map((d) => applied(d, { id: `old-${d.name}` })));
    const p = plan(now, observed);
    const { docker, calls } = fakeDocker();
    const events: ApplyEvent[] = [];
    const result = await executePlan(p, { engine: docker, desired: now, secrets: new Map([['keep', [{ name: 'tok', value: Buffer.from('v') }]]]), parallelism: 1, onEvent: (e) => events.push(e) });
    expect(calls).toEqual([
      // A deleted environment's container is stopped and removed from the start of the walk
      // (its stop comes first: a create first asks which engine this is, flavour.ts).
      'stop old-gone',
      'create ss.demo.fresh sandboxshift/busybox:test',
      'remove old-gone',
      // The user's /workspace root, given to it before any start.
      'putArchive id-ss.demo.fresh / tar',
      'start id-ss.demo.fresh',
      'update old-grow memory=1073741824',
      // A replacement stops only on its turn.
      'stop old-keep',
      'remove old-keep',
      'create ss.demo.keep sandboxshift/busybox:test',
      'putArchive id-ss.demo.keep / tar',
      'putArchive id-ss.demo.keep / tar',
      'start id-ss.demo.keep',
    ]);
    expect(result.failed).toEqual([]);
    expect(result.completed.map((c) => `${c.address}:${c.kind}`)).toEqual(['environment.fresh:create', 'environment.grow:update', 'environment.keep:replace', 'environment.gone:delete']);
    expect(events.filter((e) => e.type === 'change-done')).toHaveLength(4);
  });

  it("never starts a container whose user could not be set up: create-container fails, and the never-started container is the next plan's to replace", async () => {
    const desired = desiredOf([env('a', { uid: 43210, gid: 43210 })]);
    const { docker, calls } = fakeDocker({ failPut: 'id-ss.demo.a' });
    const result = await executePlan(plan(desired, observedOf([])), { engine: docker, desired, secrets: new Map(), parallelism: 1 });
    expect(result.failed).toEqual([{ address: 'environment.a', kind: 'create', step: 'create-container', error: 'no space left on device' }]);
    expect(calls).toEqual(['create ss.demo.a sandboxshift/busybox:test', 'putArchive id-ss.demo.a / tar']);
  });

  it('keeps going past a failure and reports it with the step', async () => {
    const desired = desiredOf([env('a'), env('bad'), env('c')]);
    const { docker, calls } = fakeDocker({ failCreate: 'ss.demo.bad' });
    const result = await executePlan(plan(desired, observedOf([])), { engine: docker, desired, secrets: new Map(), parallelism: 2 });
    expect(result.failed).toEqual([{ address: 'environment.bad', kind: 'create', step: 'create-container', error: 'invalid mount config' }]);
    expect(result.completed.map((c) => c.address).sort()).toEqual(['environment.a', 'environment.c']);
    expect(calls).not.toContain('start id-ss.demo.bad');
  });

  it('starts no change once its signal is aborted; those running finish, the rest are reported skipped', async () => {
    const desired = desiredOf([env('a'), env('b'), env('c')]);
    const { docker, calls } = fakeDocker();
    const stop = new AbortController();
    const result = await executePlan(plan(desired, observedOf([])), {
      engine: docker,
      desired,
      secrets: new Map(),
      parallelism: 1,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'change-start') stop.abort();
      },
    });
    expect(result.completed.map((c) => c.address)).toEqual(['environment.a']);
    expect(result.skipped).toEqual([
      { address: 'environment.b', kind: 'create', because: 'not started: the run was stopped' },
      { address: 'environment.c', kind: 'create', because: 'not started: the run was stopped' },
    ]);
    expect(calls.filter((c) => c.startsWith('create'))).toEqual(['create ss.demo.a sandboxshift/busybox:test']);
  });

  it('never has more changes in flight than the parallelism', async () => {
    const desired = desiredOf(Array.from({ length: 12 }, (_, i) => env(`e${i}`)));
    const { docker, maxInFlight } = fakeDocker();
    const result = await executePlan(plan(desired, observedOf([])), { engine: docker, desired, secrets: new Map(), parallelism: 3 });
    expect(result.completed).toHaveLength(12);
    expect(maxInFlight()).toBe(3);
  });

  it('stops and removes the containers of every delete at once, whatever the parallelism', async () => {
    const old = desiredOf(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => env(n)));
    const observed = observedOf([...old.environments.values()].map((d) => applied(d, { id: `old-${d.name}` })));
    const { docker, calls, maxInFlight } = fakeDocker();
    const result = await executePlan(planDestroy(old, observed), { engine: docker, desired: old, secrets: new Map(), parallelism: 2 });
    expect(result.completed).toHaveLength(6);
    expect(maxInFlight()).toBe(6);
    expect(calls).toEqual([...['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `stop old-${n}`), ...['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `remove old-${n}`)]);
  });

  it('never has more than REMOVALS_IN_FLIGHT container removals under way', async () => {
    const names = Array.from({ length: REMOVALS_IN_FLIGHT + 6 }, (_, i) => `e${i}`);
    const old = desiredOf(names.map((n) => env(n)));
    const observed = observedOf([...old.environments.values()].map((d) => applied(d, { id: `old-${d.name}` })));
    const { docker, calls, maxInFlight } = fakeDocker();
    const result = await executePlan(planDestroy(old, observed), { engine: docker, desired: old, secrets: new Map(), parallelism: 1 });
    expect(result.completed).toHaveLength(names.length);
    expect(maxInFlight()).toBe(REMOVALS_IN_FLIGHT);
    expect(calls.filter((c) => c.startsWith('remove '))).toHaveLength(names.length);
  });

  it("a failed stop fails its delete at remove-container, with the engine's message", async () => {
    const old = desiredOf([env('a'), env('b')]);
    const observed = observedOf([...old.environments.values()].map((d) => applied(d, { id: `old-${d.name}` })));
    const { docker, calls } = fakeDocker({ failStop: 'old-a' });
    const result = await executePlan(planDestroy(old, observed), { engine: docker, desired: old, secrets: new Map(), parallelism: 1 });
    expect(result.failed).toEqual([{ address: 'environment.a', kind: 'delete', step: 'remove-container', error: 'cannot kill container: permission denied' }]);
    expect(result.completed.map((c) => c.address)).toEqual(['environment.b']);
    expect(calls).not.toContain('remove old-a');
  });

  it('skips a change whose dependency failed', async () => {
    const desired = desiredOf([env('base'), env('child')]);
    const p = plan(desired, observedOf([]));
    const child = p.changes.find((c) => c.name === 'child')!;
    child.dependsOn = ['environment.base'];
    const { docker, calls } = fakeDocker({ failCreate: 'ss.demo.base' });
    const result = await executePlan(p, { engine: docker, desired, secrets: new Map(), parallelism: 4 });
    expect(result.skipped).toEqual([{ address: 'environment.child', kind: 'create', because: 'depends on environment.base, which failed' }]);
    expect(calls.some((c) => c.includes('child'))).toBe(false);
  });

  describe('refuses a plan it cannot walk: nothing runs, every change fails with the reason', () => {
    const desired = desiredOf([]);
    const removal = (name: string, dependsOn: string[] = [], address = `environment.${name}`): Change =>
      bareChange({ address, type: 'environment', name, kind: 'delete', reasons: [{ code: 'destroy', message: 'destroy' }], steps: ['remove-container'], containerId: `id-${name}`, dependsOn });
    const planOf = (changes: Change[]): Plan => ({ project: 'demo', mode: 'destroy', changes, diagnostics: [], targets: [], sourceHash: 'x', observedFingerprint: 'y', engineVersion: 'z' });

    it('a dependency cycle', async () => {
      const { docker, calls } = fakeDocker();
      const events: ApplyEvent[] = [];
      const p = planOf([removal('a', ['environment.b']), removal('b', ['environment.a']), removal('free')]);
      const result = await executePlan(p, { engine: docker, desired, secrets: new Map(), parallelism: 4, onEvent: (e) => events.push(e) });
      const error = 'plan refused, nothing was run: dependency cycle environment.a -> environment.b -> environment.a; plan again';
      expect(calls).toEqual([]);
      expect(result.completed).toEqual([]);
      expect(result.skipped).toEqual([]);
      expect(result.failed).toEqual(['a', 'b', 'free'].map((n) => ({ address: `environment.${n}`, kind: 'delete', step: null, error })));
      expect(events.map((e) => `${e.type} ${e.address}`)).toEqual(['change-failed environment.a', 'change-failed environment.b', 'change-failed environment.free']);
      expect(applyEventLine(events[0]!)).toBe(`environment.a: Destruction FAILED before it started: ${error}`);
      expect(applySummary(result, 'destroy')).toContain(`  failed:    environment.free (delete, not started): ${error}`);
    });

    it('a change that depends on itself', async () => {
      const { docker, calls } = fakeDocker();
      const result = await executePlan(planOf([removal('a', ['environment.a'])]), { engine: docker, desired, secrets: new Map(), parallelism: 1 });
      expect(calls).toEqual([]);
      expect(result.failed).toEqual([{ address: 'environment.a', kind: 'delete', step: null, error: 'plan refused, nothing was run: dependency cycle environment.a -> environment.a; plan again' }]);
    });

    it('two changes with one address', async () => {
      const { docker, calls } = fakeDocker();
      const p = planOf([removal('a'), removal('x', [], 'environment.a[duplicate]'), removal('y', [], 'environment.a[duplicate]')]);
      const result = await executePlan(p, { engine: docker, desired, secrets: new Map(), parallelism: 4 });
      const error = "plan refused, nothing was run: more than one change has the address 'environment.a[duplicate]'; plan again";
      expect(calls).toEqual([]);
      expect(result.failed.map((f) => [f.address, f.step, f.error])).toEqual([
        ['environment.a', null, error],
        ['environment.a[duplicate]', null, error],
        ['environment.a[duplicate]', null, error],
      ]);
    });
  });

  it('destroy removes every duplicate container of one environment, each under its own address', async () => {
    const desired = desiredOf([env('web')]);
    const d = desired.environments.get('web')!;
    const first = applied(d, { id: 'a'.repeat(64) });
    const observed = { ...observedOf([first]), duplicates: [applied(d, { id: 'b'.repeat(64), name: 'ss.demo.web-2' }), applied(d, { id: 'c'.repeat(64), name: 'ss.demo.web-3' })] };
    const p = planDestroy(desired, observed);
    expect(p.changes.map((c) => c.address)).toEqual(['environment.web', 'environment.web[duplicate bbbbbbbbbbbb]', 'environment.web[duplicate cccccccccccc]']);
    const { docker, calls } = fakeDocker();
    const result = await executePlan(p, { engine: docker, desired, secrets: new Map(), parallelism: 1 });
    // Removals run side by side (as in compose down): each container stopped, then removed.
    expect([...calls].sort()).toEqual(
      ['a', 'b', 'c']
        .flatMap((x) => [`remove ${x.repeat(64)}`])
        .concat(['a', 'b', 'c'].map((x) => `stop ${x.repeat(64)}`))
        .sort(),
    );
    for (const x of ['a', 'b', 'c']) expect(calls.indexOf(`stop ${x.repeat(64)}`)).toBeLessThan(calls.indexOf(`remove ${x.repeat(64)}`));
    expect(result.completed.map((c) => c.address)).toEqual(p.changes.map((c) => c.address));
    expect(result.failed).toEqual([]);
  });

  it('leaves a pause that a running cp holds (its record came after the plan looked), and ends one whose cp is gone', async () => {
    const desired = desiredOf([env('a')]);
    const p = plan(desired, observedOf([applied(desired.environments.get('a')!, { id: 'ctr-a', state: 'paused', status: 'Up (Paused)' })]));
    expect(p.changes[0]!.steps).toEqual(['unpause']);
    const record = (pid: number) => ({
      Id: 'copying-a',
      Labels: {
        'io.sandboxshift.project': 'demo',
        'io.sandboxshift.environment': 'a',
        'io.sandboxshift.role': 'copying',
        'io.sandboxshift.copy.container': 'ctr-a',
        'io.sandboxshift.lock.holder': hostname(),
        'io.sandboxshift.lock.pid': String(pid),
      },
    });
    const live = engineFake({ containers: [record(process.pid)], inspect: {}, networks: [] });
    expect((await executePlan(p, { engine: live.docker, desired, secrets: new Map(), parallelism: 1 })).failed).toEqual([]);
    expect(live.calls).toEqual(['remove-records demo/a/copying: copying-a']);
    const gone = engineFake({ containers: [record(2 ** 22 + 1)], inspect: {}, networks: [] });
    expect((await executePlan(p, { engine: gone.docker, desired, secrets: new Map(), parallelism: 1 })).failed).toEqual([]);
    expect(gone.calls).toEqual(['remove-records demo/a/copying: copying-a', 'unpause ctr-a']);
  });

  it('destroy removes the idle, touch and copying records of each environment and, after the proxies, the outside network: ours only', async () => {
    const desired = desiredOf([env('a', { egress: { mode: 'allow', allow: ['pypi.org'] } }), env('b')]);
    const base = observedOf([...desired.environments.values()].map((d) => applied(d, { id: `old-${d.name}` })));
    const observed = {
      ...base,
      outsideNetwork: true,
      proxies: new Map([['a', { id: 'proxy-a', name: 'ss.demo.a.egress', environment: 'a', state: 'running' as const, allow: ['pypi.org'], image: 'x', imageId: 'y' }]]),
      networks: new Map([['a', { id: 'net-a', name: 'ss.demo.a.net', subnets: ['10.213.0.0/28'], gatewayIsolated: true }]]),
      activityRecords: new Set(['a', 'b']),
    };
    const p = planDestroy(desired, observed);
    const project = { 'io.sandboxshift.project': 'demo' };
    const record = (id: string, env: string, role: string) => ({ Id: id, Labels: { ...project, 'io.sandboxshift.environment': env, 'io.sandboxshift.role': role } });
    const { docker, calls, records } = engineFake({
      containers: [
        record('idle-a', 'a', 'idle-stopped'),
        record('touch-a', 'a', 'touch'),
        record('touch-b', 'b', 'touch'),
        record('copying-b', 'b', 'copying'),
        record('applied', '', 'applied-commit'),
      ],
      inspect: { 'ss.demo.a.egress': { Id: 'proxy-a', Config: { Labels: { ...project, 'io.sandboxshift.role': 'egress' } } } },
      networks: [
        { Id: 'net-a', Name: 'ss.demo.a.net', Labels: { ...project, 'io.sandboxshift.role': 'network' } },
        { Id: 'out', Name: 'ss.demo.egress-out', Labels: { ...project, 'io.sandboxshift.role': 'egress' } },
        // A look-alike: our name, not our labels. Never removed.
        { Id: 'look-alike', Name: 'ss.demo.egress-out', Labels: {} },
        { Id: 'longer', Name: 'ss.demo.egress-out-2', Labels: { ...project, 'io.sandboxshift.role': 'egress' } },
      ],
    });
    const result = await executePlan(p, { engine: docker, desired, secrets: new Map(), parallelism: 1 });
    expect(result.failed).toEqual([]);
    expect(result.completed.map((c) => c.address)).toEqual(['environment.a', 'environment.b', 'network.egress-out']);
    expect(calls).toEqual([
      'stop old-a',
      'stop old-b',
      'remove old-a',
      'remove old-b',
      'remove proxy-a',
      'remove-records demo/a/egress-policy: none',
      'remove-network net-a',
      'remove-records demo/a/idle-stopped: idle-a',
      'remove-records demo/a/touch: touch-a',
      'remove-records demo/a/copying: none',
      'remove-records demo/b/idle-stopped: none',
      'remove-records demo/b/touch: touch-b',
      'remove-records demo/b/copying: copying-b',
      'remove-network out',
    ]);
    // The applied-commit record stays: it says what a watcher last applied.
    expect(records()).toEqual(['applied']);
  });

  it('gives each type of change its own steps, checked by the compiler', () => {
    // @ts-expect-error remove-container is a step of environments, not of images
    const wrong: ImageChange['steps'] = ['remove-container'];
    expect(STEPS_BY_TYPE.image).toEqual(['build-image', 'pull-image', 'verify-image', 'push-image']);
    expect(STEPS_BY_TYPE.image).not.toContain(wrong[0]);
  });
});
