// A lock left by a run on this host that is gone is taken over, saying so; a lock from another
// host never is; the unlock hint names the config when it is not the default one.
import { spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, LOCK_IMAGE } from '../../src/engine/lock.js';
import { containerState, docker, testProject, type TestProject } from './harness.js';

const config = `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  one: { image: busybox, resources: { cpus: 0.25, memory: 32m, pids: 32 } }
`;

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

/** A lock container as a run that died would have left it. */
async function leaveLock(project: string, labels: Record<string, string>): Promise<string> {
  // The lock image is imported on first use; a real lock taken and given back ensures it.
  await (await acquireLock(docker, project, 'setup')).release();
  const c = await docker.createContainer({
    name: `ss.${project}.lock`,
    Image: LOCK_IMAGE,
    Cmd: ['/lock'],
    Labels: {
      'io.sandboxshift.project': project,
      'io.sandboxshift.role': 'lock',
      'io.sandboxshift.lock.id': 'feedface',
      'io.sandboxshift.lock.since': '2026-01-01T00:00:00.000Z',
      'io.sandboxshift.lock.command': 'apply',
      ...labels,
    },
    HostConfig: { NetworkMode: 'none' },
  });
  return c.id;
}

async function lockExists(id: string): Promise<boolean> {
  try {
    await docker.getContainer(id).inspect();
    return true;
  } catch {
    return false;
  }
}

describe('stale locks', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('stalelock', config);
  });
  afterAll(async () => p.cleanup());

  it('a lock of this host whose process is gone is taken over, and said so', async () => {
    const pid = await deadPid();
    const stale = await leaveLock(p.name, { 'io.sandboxshift.lock.holder': hostname(), 'io.sandboxshift.lock.pid': String(pid) });
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`lock held by pid ${pid} on this host, which is gone: taking it over`);
    expect(await lockExists(stale)).toBe(false);
    expect(await containerState(p.name, 'one')).toBe('running');
    const locks = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=lock'] } });
    expect(locks).toEqual([]);
  });

  it('a pid reused by another process (another start time) counts as gone', async () => {
    // This test's own pid is alive, but the lock says its holder started at tick 1.
    const stale = await leaveLock(p.name, {
      'io.sandboxshift.lock.holder': hostname(),
      'io.sandboxshift.lock.pid': String(process.pid),
      'io.sandboxshift.lock.pid-started': '1',
    });
    const r = await p.run(['destroy', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`lock held by pid ${process.pid} on this host, which is gone: taking it over`);
    expect(await lockExists(stale)).toBe(false);
  });

  it('two runs taking over one stale lock: one wins, the other reports the lock, none fails otherwise', async () => {
    const stale = await leaveLock(p.name, { 'io.sandboxshift.lock.holder': hostname(), 'io.sandboxshift.lock.pid': String(await deadPid()) });
    const runs = await Promise.all([p.run(['apply', '--auto-approve']), p.run(['apply', '--auto-approve'])]);
    const outcomes = runs.map((r) => (r.code === 0 ? 'ok' : r.stderr.includes(`project '${p.name}' is locked`) ? 'locked' : `error: ${r.stderr}`));
    expect(outcomes.filter((o) => o.startsWith('error'))).toEqual([]);
    expect(outcomes).toContain('ok');
    expect(runs.some((r) => r.stderr.includes('which is gone: taking it over'))).toBe(true);
    expect(await lockExists(stale)).toBe(false);
    expect(await containerState(p.name, 'one')).toBe('running');
    const locks = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=lock'] } });
    expect(locks).toEqual([]);
    expect((await p.run(['destroy', '--auto-approve'])).code).toBe(0);
  });

  it('a lock from another host is never taken over; the unlock hint carries -c FILE', async () => {
    copyFileSync(p.file, join(p.dir, 'other.yaml'));
    const pid = await deadPid();
    const held = await leaveLock(p.name, { 'io.sandboxshift.lock.holder': 'ci-runner-elsewhere', 'io.sandboxshift.lock.pid': String(pid) });
    const r = await p.run(['apply', '--auto-approve', '-c', 'other.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`project '${p.name}' is locked: another apply is running on this engine (held by ci-runner-elsewhere pid ${pid} (apply)`);
    expect(r.stderr).toContain('remove the stale lock with `sandboxshift unlock feedface -c other.yaml`');
    expect(r.stderr).not.toContain('taking it over');
    expect(await lockExists(held)).toBe(true);
    expect(await containerState(p.name, 'one')).toBeNull();
    // The hint works as printed.
    const unlocked = await p.run(['unlock', 'feedface', '-c', 'other.yaml']);
    expect(unlocked.code, unlocked.stderr).toBe(0);
    expect(unlocked.stdout).toContain(`Lock feedface of project '${p.name}' removed.`);
    expect(await lockExists(held)).toBe(false);
  });

  it('a live holder on this host keeps its lock, and the default config needs no -c', async () => {
    const held = await acquireLock(docker, p.name, 'apply (other runner)');
    try {
      const r = await p.run(['apply', '--auto-approve']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`remove the stale lock with \`sandboxshift unlock ${held.info.id}\``);
      expect(r.stderr).not.toContain('taking it over');
    } finally {
      await held.release();
    }
  });
});
