// SIGKILL a watcher in the middle of an apply, then start another: the new one takes over the
// lock the dead one left (same host, its pid gone), converges, and nothing is duplicated or lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxConfig, containerState, docker, testProject, type TestProject } from './harness.js';
import { WatchProcess } from './watch-process.js';

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const envs = NAMES.map((n) => `  ${n}: {}\n`).join('');

describe('watch: killed mid-apply, then started again', () => {
  let p: TestProject;
  let first: WatchProcess;
  let second: WatchProcess | undefined;
  beforeAll(() => {
    p = testProject('watchkill', busyboxConfig(envs));
  });
  afterAll(async () => {
    for (const w of [first, second]) if (w?.running) await w.stop();
    await p?.cleanup();
  });

  it('leaves a lock the next watcher takes over, and the next watcher converges with one container per environment', async () => {
    first = new WatchProcess(p.dir, ['--parallelism', '1']);
    // Killed after the first environment is made and before the last one is.
    await first.waitFor(/applied environment\.[a-h]: create/);
    const killedAt = first.mark();
    process.kill(first.pid, 'SIGKILL');
    await first.exited;
    expect(first.lines.slice(killedAt).some((l) => /applied 8 changes/.test(l))).toBe(false);
    const lockLeft = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=lock'] } });
    expect(lockLeft).toHaveLength(1);

    second = new WatchProcess(p.dir, []);
    const took = await second.waitFor(`lock held by pid ${first.pid} on this host, which is gone: taking it over`);
    await second.waitFor(/applied \d+ changes? in \d+ ms$|no changes \(in sync\)/, took);
    for (const n of NAMES) expect(await containerState(p.name, n)).toBe('running');
    // Nothing duplicated: one environment container and one workspace volume per environment.
    const containers = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=environment'] } });
    expect(containers.map((c) => c.Labels['io.sandboxshift.environment']).sort()).toEqual(NAMES);
    const volumes = (await docker.listVolumes({ filters: { label: [`io.sandboxshift.project=${p.name}`] } })).Volumes ?? [];
    expect(volumes.map((v) => v.Name).sort()).toEqual(NAMES.map((n) => `ss.${p.name}.${n}.workspace`));
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
    expect((await second.stop()).code).toBe(0);
    const locks = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=lock'] } });
    expect(locks).toEqual([]);
  });
});
