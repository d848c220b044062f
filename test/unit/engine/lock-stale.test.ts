// When is a lock stale? Only when its holder ran on this host and that process is gone: no such
// pid, or the pid now belongs to a process that started at another time.
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { Docker } from '../../../src/engine/client.js';
import { acquireLock, ForeignLockError, isStale, lockWaitMs, processStartTime, readLock, releaseLock, waitForLock, type LockInfo } from '../../../src/engine/lock.js';
import type { DiagnosticsError } from '../../../src/diagnostics.js';
import { Labels } from '../../../src/engine/labels.js';

const lock = (extra: Partial<LockInfo>): LockInfo => ({
  id: 'abcd1234',
  holder: hostname(),
  pid: process.pid,
  pidStarted: processStartTime(process.pid),
  since: '2026-01-01T00:00:00.000Z',
  command: 'apply',
  ...extra,
});

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('isStale', () => {
  it('reads a start time for a live process, and none for a gone one', async () => {
    expect(processStartTime(process.pid)).toMatch(/^[0-9]+$/);
    expect(processStartTime(await deadPid())).toBeNull();
  });

  it('a live holder on this host is not stale', () => {
    const other = { pid: process.ppid, pidStarted: processStartTime(process.ppid) };
    expect(isStale(lock(other))).toBe(false);
    // An older lock without a start time: the pid alone decides.
    expect(isStale(lock({ ...other, pidStarted: null }))).toBe(false);
  });

  it('a gone holder on this host is stale', async () => {
    expect(isStale(lock({ pid: await deadPid() }))).toBe(true);
  });

  it('a pid now used by a process that started at another time is stale', () => {
    expect(isStale(lock({ pidStarted: '1' }))).toBe(true);
  });

  it('a lock from another host is never judged stale from here', async () => {
    expect(isStale(lock({ holder: `${hostname()}-elsewhere`, pid: await deadPid() }))).toBe(false);
  });

  it('a lock with no readable pid is not stale', () => {
    expect(isStale(lock({ pid: 0 }))).toBe(false);
    expect(isStale(lock({ pid: Number.NaN }))).toBe(false);
  });
});

/** Just enough of an engine for the lock: named containers with labels; `failRemove` makes removal fail as a vanished engine does. */
function fakeEngine() {
  const containers = new Map<string, { Id: string; Config: { Labels: Record<string, string> } }>();
  let n = 0;
  const state = { failRemove: false };
  const engine = {
    getImage: () => ({ inspect: async () => ({}) }),
    createContainer: async (opts: { name: string; Labels: Record<string, string> }) => {
      if (containers.has(opts.name)) throw Object.assign(new Error('Conflict'), { statusCode: 409 });
      containers.set(opts.name, { Id: `c${++n}`, Config: { Labels: opts.Labels } });
    },
    getContainer: (name: string) => ({
      inspect: async () => {
        const c = containers.get(name) ?? [...containers.values()].find((x) => x.Id === name);
        if (!c) throw Object.assign(new Error('No such container'), { statusCode: 404 });
        return c;
      },
      remove: async () => {
        if (state.failRemove) throw Object.assign(new Error('connect ENOENT /tmp/gone.sock'), { code: 'ENOENT' });
        for (const [k, c] of containers) if (k === name || c.Id === name) containers.delete(k);
      },
    }),
  };
  return { docker: engine as unknown as Docker, containers, state };
}

describe("this process's own locks", () => {
  it('one it holds is not stale: a second taker from the same process waits', async () => {
    const { docker } = fakeEngine();
    const held = await acquireLock(docker, 'p', 'watch');
    expect(isStale(held.info)).toBe(false);
    await expect(acquireLock(docker, 'p', 'watch (idle policy)')).rejects.toThrow(`held by ${hostname()} pid ${process.pid} (watch)`);
    await held.release();
  });

  it('one whose release the engine never answered is an orphan: the next take takes it over', async () => {
    const { docker, containers, state } = fakeEngine();
    const held = await acquireLock(docker, 'p', 'watch');
    state.failRemove = true;
    await expect(held.release()).rejects.toThrow('ENOENT');
    state.failRemove = false;
    expect([...containers.values()].map((c) => c.Config.Labels[Labels.lockId])).toEqual([held.info.id]);
    expect(isStale(held.info)).toBe(true);
    const taken: LockInfo[] = [];
    const again = await acquireLock(docker, 'p', 'watch', { onTakeover: (s) => taken.push(s) });
    expect(taken.map((s) => s.id)).toEqual([held.info.id]);
    expect([...containers.values()].map((c) => c.Config.Labels[Labels.lockId])).toEqual([again.info.id]);
    await again.release();
    expect(containers.size).toBe(0);
  });

  it('one left by a create whose answer was lost (an id it never got back) is an orphan', () => {
    expect(isStale(lock({ id: 'neverheld' }))).toBe(true);
  });
});

// A container under the lock's name without a lock's labels is someone else's: never read as a
// holder, waited for, taken over or removed.
describe('a container under the lock name that we did not make', () => {
  const foreignLabels: Array<[string, Record<string, string>]> = [
    ['none', {}],
    ['no role or ID, this host and a gone pid', { [Labels.project]: 'p', [Labels.lockHolder]: hostname(), [Labels.lockPid]: '4194303' }],
    ['no ID', { [Labels.project]: 'p', [Labels.role]: 'lock', [Labels.lockHolder]: hostname(), [Labels.lockPid]: '4194303' }],
    ['another project', { [Labels.project]: 'q', [Labels.role]: 'lock', [Labels.lockId]: 'feedface', [Labels.lockHolder]: hostname(), [Labels.lockPid]: '4194303' }],
  ];
  it.each(foreignLabels)('labels: %s', async (_, labels) => {
    const { docker, containers } = fakeEngine();
    containers.set('ss.p.lock', { Id: 'theirs', Config: { Labels: labels } });
    await expect(readLock(docker, 'p')).rejects.toBeInstanceOf(ForeignLockError);
    await expect(acquireLock(docker, 'p', 'apply', { onTakeover: () => expect.fail('taken over') })).rejects.toBeInstanceOf(ForeignLockError);
    const started = Date.now();
    await expect(waitForLock(docker, 'p', 'apply', 60_000, () => new Error('waited'))).rejects.toBeInstanceOf(ForeignLockError);
    expect(Date.now() - started).toBeLessThan(1000);
    for (const id of ['unknown', 'feedface']) await expect(releaseLock(docker, 'p', id)).rejects.toBeInstanceOf(ForeignLockError);
    expect([...containers.keys()]).toEqual(['ss.p.lock']);
    expect(containers.get('ss.p.lock')?.Id).toBe('theirs');
  });

  it('one that took the name after our lock went is left by our release', async () => {
    const { docker, containers } = fakeEngine();
    const held = await acquireLock(docker, 'p', 'apply');
    containers.set('ss.p.lock', { Id: 'theirs', Config: { Labels: {} } });
    await held.release();
    expect(containers.get('ss.p.lock')?.Id).toBe('theirs');
  });
});

// How long a lock is waited for comes from the environment, in seconds; a value that is not a
// number is refused with what to write, never read as NaN (which waited for ever).
describe('lockWaitMs', () => {
  it('reads whole and decimal seconds, and the default when unset', () => {
    expect(lockWaitMs('W', 600, {})).toBe(600_000);
    expect(lockWaitMs('W', 600, { W: '1.5' })).toBe(1500);
    expect(lockWaitMs('W', 600, { W: ' 0 ' })).toBe(0);
  });

  it.each(['10m', '', '-1', 'NaN', 'Infinity', '1e3', '0x10'])('refuses %j', (value) => {
    const err = (() => {
      try {
        lockWaitMs('SANDBOXSHIFT_BUILD_LOCK_WAIT', 3600, { SANDBOXSHIFT_BUILD_LOCK_WAIT: value });
        return null;
      } catch (e) {
        return e as DiagnosticsError;
      }
    })();
    expect(err?.diagnostics.map((d) => [d.message, d.hint])).toEqual([
      [`SANDBOXSHIFT_BUILD_LOCK_WAIT must be a number of seconds, got '${value}'`, 'e.g. SANDBOXSHIFT_BUILD_LOCK_WAIT=3600 (the default), or unset it'],
    ]);
  });
});
