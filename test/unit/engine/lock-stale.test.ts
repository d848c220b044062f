// When is a lock stale? Only when its holder ran on this host and that process is gone: no such
// pid, or the pid now belongs to a process that started at another time.
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { isStale, processStartTime, type LockInfo } from '../../../src/engine/lock.js';

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
    expect(isStale(lock({}))).toBe(false);
    // An older lock without a start time: the pid alone decides.
    expect(isStale(lock({ pidStarted: null }))).toBe(false);
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
