// The mass-delete rule counts the environments the engine has: a config that renames every
// environment (or deletes them and adds as many new ones) is held back like any mass delete.
// Found by the adversary pass: such a commit used to delete every running environment, since
// the new ones were counted too (2 deleted "of 4", not more than half).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxConfig, containerState, testProject, type TestProject } from './harness.js';
import { WatchProcess } from './watch-process.js';

const envs = (...names: string[]) => names.map((n) => `  ${n}: {}\n`).join('');

describe('watch: a config that renames every environment', () => {
  let p: TestProject;
  let w: WatchProcess;
  beforeAll(async () => {
    p = testProject('watchrename', busyboxConfig(envs('a', 'b')));
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code).toBe(0);
    w = new WatchProcess(p.dir, []);
    await w.waitFor(/no changes \(in sync\) in \d+ ms$/);
  }, 120_000);
  afterAll(async () => {
    await w?.stop();
    await p?.cleanup();
  }, 60_000);

  it('holds back deleting both existing environments, and creates the new ones', async () => {
    const m = w.mark();
    p.write(busyboxConfig(envs('c', 'd')));
    await w.waitFor('held back: the config deletes 2 of 2 environments at once (more than half): environment.a, environment.b; restart the watcher with --allow-mass-delete if that is meant', m);
    await w.waitFor(/applied 2 changes in \d+ ms$/, m);
    expect(await containerState(p.name, 'a')).toBe('running');
    expect(await containerState(p.name, 'b')).toBe('running');
    expect(await containerState(p.name, 'c')).toBe('running');
    expect(await containerState(p.name, 'd')).toBe('running');
  }, 90_000);
});
