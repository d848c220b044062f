// One apply at a time per project and engine. The lock is a container named after the project,
// never started: the engine reserves container names atomically, so of two runners creating
// it at once exactly one wins, and the labels say who holds it. No host files, so it works
// for CI runners sharing a remote engine.
// A lock whose holder ran on this host and is gone (no such pid, or the pid now belongs to a
// process that started at another time) is stale and taken over; one from another host never is.
// So is one of this very process that it no longer holds: a release the engine never answered
// (it went away mid-run), or a create whose answer was lost; a long-running watcher would
// otherwise wait for itself forever.
// A container under the lock's name without a lock's labels (the scope's project, role `lock`, a
// lock ID) is not a lock of ours: never judged, waited for, taken over or unlocked, but named in
// an error that says to rename or remove it by hand (ForeignLockError).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { lockContainerName } from '../model/names.js';
import { statusCode, withEngine, type Docker } from './client.js';
import { Labels } from './labels.js';
import { holderGone, processStartTime, waitSeconds } from './holder.js';

import { ensureLockImage, LOCK_IMAGE } from './record-image.js';

export { ensureLockImage, LOCK_IMAGE };

export interface LockInfo {
  id: string;
  holder: string;
  pid: number;
  /** The holder's start time as the kernel counts it (/proc/PID/stat), when it could be read. */
  pidStarted: string | null;
  since: string;
  command: string;
  /** The lock container's ID, so a takeover removes exactly the lock it judged stale. */
  containerId?: string;
}

export interface LockOptions {
  /** Extra arguments the `unlock` hint needs, e.g. `['-c', 'other.yaml']`. */
  unlockArgs?: string[];
  /** Called before a stale lock of this host is taken over. */
  onTakeover?: (stale: LockInfo) => void;
}

export interface HeldLock {
  info: LockInfo;
  release(): Promise<void>;
}

/** The IDs of the locks this process is taking or holds; any other lock with its pid is an orphan. */
const ownLocks = new Set<string>();

export async function acquireLock(engine: Docker, project: string, command: string, options: LockOptions = {}): Promise<HeldLock> {
  const info: LockInfo = {
    id: randomUUID().slice(0, 8),
    holder: hostname(),
    pid: process.pid,
    pidStarted: processStartTime(process.pid),
    since: new Date().toISOString(),
    command,
  };
  ownLocks.add(info.id);
  try {
    return await takeLock(engine, project, info, options);
  } catch (err) {
    ownLocks.delete(info.id);
    throw err;
  }
}

async function takeLock(engine: Docker, project: string, info: LockInfo, options: LockOptions): Promise<HeldLock> {
  return withEngine(async () => {
    await ensureLockImage(engine);
    if (!(await createLock(engine, project, info))) {
      const holder = await readLock(engine, project);
      if (!holder || !isStale(holder)) throw lockedError(project, holder, options.unlockArgs);
      options.onTakeover?.(holder);
      // Remove exactly the container judged stale: if another run took it over first, its new
      // lock has another ID and stays; then whoever creates the name next wins, once.
      try {
        await engine.getContainer(holder.containerId ?? lockContainerName(project)).remove({ force: true });
      } catch (err) {
        // 404: already gone; 409: another run is removing it right now. Either way, race to create.
        if (statusCode(err) !== 404 && statusCode(err) !== 409) throw err;
      }
      if (!(await createLock(engine, project, info))) throw lockedError(project, await readLock(engine, project), options.unlockArgs);
    }
    const held: HeldLock = {
      info,
      release: async () => {
        heldNow.delete(held);
        try {
          // A container that took the name after ours went is not ours to remove: left as it is.
          await releaseLock(engine, project, info.id).catch((err: unknown) => {
            if (!(err instanceof ForeignLockError)) throw err;
          });
        } finally {
          ownLocks.delete(info.id);
        }
      },
    };
    heldNow.add(held);
    return held;
  });
}

/** The locks this process holds right now (taken, not yet given back). */
const heldNow = new Set<HeldLock>();

/**
 * Gives back every lock this process holds, as best it can: a signal's handler (app/lock.ts)
 * calls it before the process exits, so a lock taken inside the work (a shared image's build
 * lock, the engine-wide policy lock) is not left for another host to wait on.
 */
export async function releaseHeldLocks(): Promise<void> {
  await Promise.all([...heldNow].map((lock) => lock.release().catch(() => undefined)));
}

/** Whether `err` is acquireLock's refusal because another run holds the lock. */
export function isLockedError(err: unknown): boolean {
  return err instanceof DiagnosticsError && err.diagnostics.some((d) => d.message.includes('is locked'));
}

const FIRST_WAIT_MS = 250;
const LONGEST_WAIT_MS = 2000;

/**
 * acquireLock, waited for: tried again while another run holds it (after 250 ms, then twice as
 * long each time up to 2 s), for up to `waitMs`; then `timedOut` (given who holds it now) is
 * thrown. `onWait` is called once, at the first refusal.
 */
export async function waitForLock(
  engine: Docker,
  scope: string,
  command: string,
  waitMs: number,
  timedOut: (holder: LockInfo | null) => Error,
  onWait?: (holder: LockInfo | null) => void,
): Promise<HeldLock> {
  const deadline = Date.now() + waitMs;
  let step = 0;
  for (;;) {
    try {
      return await acquireLock(engine, scope, command);
    } catch (err) {
      if (!isLockedError(err)) throw err;
      if (step === 0 && onWait) onWait(await readLock(engine, scope));
      if (Date.now() >= deadline) throw timedOut(await readLock(engine, scope));
      await new Promise((r) => setTimeout(r, Math.min(FIRST_WAIT_MS * 2 ** step++, LONGEST_WAIT_MS, Math.max(deadline - Date.now(), 0))));
    }
  }
}

/**
 * How long a lock is waited for, in ms: the environment variable `name` in seconds (a whole or
 * decimal number), else `fallbackSeconds`. Anything else is refused: `10m` must not mean forever.
 */
export const lockWaitMs = waitSeconds;

/** How long the engine-wide policy lock is waited for: SANDBOXSHIFT_ENGINE_LOCK_WAIT seconds (default 600). */
export function engineLockWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  return lockWaitMs('SANDBOXSHIFT_ENGINE_LOCK_WAIT', 600, env);
}

/** Creates the lock container; false when the name is taken (the engine decides, atomically). */
async function createLock(engine: Docker, project: string, info: LockInfo): Promise<boolean> {
  try {
    await engine.createContainer({
      name: lockContainerName(project),
      Image: LOCK_IMAGE,
      Cmd: ['/lock'],
      Labels: {
        [Labels.project]: project,
        [Labels.role]: 'lock',
        [Labels.lockId]: info.id,
        [Labels.lockHolder]: info.holder,
        [Labels.lockPid]: String(info.pid),
        ...(info.pidStarted ? { [Labels.lockPidStarted]: info.pidStarted } : {}),
        [Labels.lockSince]: info.since,
        [Labels.lockCommand]: info.command,
      },
      HostConfig: { NetworkMode: 'none' },
    });
    return true;
  } catch (err) {
    if (statusCode(err) === 409) return false;
    throw err;
  }
}

/**
 * Stale: held on this host by a process that is gone (holder.ts). Another host's lock is never
 * judged from here. A lock of this process that it is not taking or holding is an orphan.
 */
export function isStale(lock: LockInfo, host = hostname()): boolean {
  if (lock.holder === host && lock.pid === process.pid && (lock.pidStarted === null || lock.pidStarted === processStartTime(process.pid))) return !ownLocks.has(lock.id);
  return holderGone(lock, host);
}

export { processStartTime };

/**
 * The lock under the scope's name, null when there is none. A container there that is not a lock
 * we made (ForeignLockError) is thrown, not read: no label of it is taken for a holder or an ID.
 */
export async function readLock(engine: Docker, project: string): Promise<LockInfo | null> {
  try {
    const c = await engine.getContainer(lockContainerName(project)).inspect();
    const l = c.Config.Labels ?? {};
    const id = l[Labels.lockId];
    if (l[Labels.project] !== project || l[Labels.role] !== 'lock' || !id) throw new ForeignLockError(project);
    return {
      id,
      // Never the name of a host (no spaces), so a lock without it is never judged stale here.
      holder: l[Labels.lockHolder] ?? 'unknown host',
      pid: Number(l[Labels.lockPid] ?? 0),
      pidStarted: l[Labels.lockPidStarted] ?? null,
      since: l[Labels.lockSince] ?? 'unknown',
      command: l[Labels.lockCommand] ?? 'unknown',
      containerId: c.Id,
    };
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
}

/**
 * Removes the lock only if it is still the one with this id (unlock ID, or our own release): the
 * very container read, never another that took the name since. A container under the name that
 * is not a lock of ours is never removed (ForeignLockError), whatever the id.
 */
export async function releaseLock(engine: Docker, project: string, id: string): Promise<'released' | 'not-held' | 'other-holder'> {
  return withEngine(async () => {
    const current = await readLock(engine, project);
    if (!current) return 'not-held';
    if (current.id !== id) return 'other-holder';
    try {
      await engine.getContainer(current.containerId ?? lockContainerName(project)).remove({ force: true });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    return 'released';
  });
}

/** What a lock scope's lock is, in words: a project's, the engine-wide policy lock, a shared image's build lock. */
function lockScopeText(scope: string): string {
  if (scope === '_engine') return 'the engine-wide policy lock';
  if (scope.startsWith('_build-')) return `the build lock of the shared image ${scope.slice('_build-'.length)}`;
  return `the lock of project '${scope}'`;
}

/** A container under a lock's name that sandboxshift did not make: it is never removed, only named. */
export class ForeignLockError extends DiagnosticsError {
  constructor(scope: string) {
    const name = lockContainerName(scope);
    super([
      errorDiag(
        `container ${name} has the name of ${lockScopeText(scope)} but is not a lock sandboxshift made (it lacks the labels ${Labels.project}=${scope}, ${Labels.role}=lock and ${Labels.lockId}); it was left as it is`,
        {
          hint: `sandboxshift does not remove what it did not create: check what it is (docker inspect ${name}), then rename it (docker rename ${name} NEW-NAME) or remove it (docker rm ${name}) yourself, and run the command again`,
        },
      ),
    ]);
  }
}

function lockedError(project: string, holder: LockInfo | null, unlockArgs: string[] = []): DiagnosticsError {
  const who = holder ? `held by ${holder.holder} pid ${holder.pid} (${holder.command}) since ${holder.since}, lock ID ${holder.id}` : 'held by another run that just released it';
  const unlock = ['sandboxshift', 'unlock', holder?.id ?? '', ...unlockArgs].join(' ');
  return new DiagnosticsError([
    errorDiag(`project '${project}' is locked: another apply is running on this engine (${who})`, {
      hint: holder ? `wait for it to finish; if that run is gone, remove the stale lock with \`${unlock}\`` : 'run the command again',
    }),
  ]);
}

/** The lock image, imported on first use; protect records (protect-record.ts) use it too. */
