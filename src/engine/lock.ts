// One apply at a time per project and engine. The lock is a container named after the project,
// never started: the engine reserves container names atomically, so of two runners creating
// it at once exactly one wins, and the labels say who holds it. No host files, so it works
// for CI runners sharing a remote engine.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { pack } from 'tar-stream';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { lockContainerName } from '../model/names.js';
import { statusCode, withEngine, type Docker } from './client.js';
import { Labels } from './labels.js';

/** A tiny image of one empty file, imported through the API: no registry, no build. */
export const LOCK_IMAGE = 'sandboxshift/lock:1';

export interface LockInfo {
  id: string;
  holder: string;
  pid: number;
  since: string;
  command: string;
}

export interface HeldLock {
  info: LockInfo;
  release(): Promise<void>;
}

export async function acquireLock(engine: Docker, project: string, command: string): Promise<HeldLock> {
  const info: LockInfo = { id: randomUUID().slice(0, 8), holder: hostname(), pid: process.pid, since: new Date().toISOString(), command };
  return withEngine(async () => {
    await ensureLockImage(engine);
    const name = lockContainerName(project);
    try {
      await engine.createContainer({
        name,
        Image: LOCK_IMAGE,
        Cmd: ['/lock'],
        Labels: {
          [Labels.project]: project,
          [Labels.role]: 'lock',
          [Labels.lockId]: info.id,
          [Labels.lockHolder]: info.holder,
          [Labels.lockPid]: String(info.pid),
          [Labels.lockSince]: info.since,
          [Labels.lockCommand]: command,
        },
        HostConfig: { NetworkMode: 'none' },
      });
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
      const holder = await readLock(engine, project);
      throw lockedError(project, holder);
    }
    return {
      info,
      release: async () => {
        await releaseLock(engine, project, info.id);
      },
    };
  });
}

export async function readLock(engine: Docker, project: string): Promise<LockInfo | null> {
  try {
    const c = await engine.getContainer(lockContainerName(project)).inspect();
    const l = c.Config.Labels ?? {};
    return {
      id: l[Labels.lockId] ?? 'unknown',
      holder: l[Labels.lockHolder] ?? 'unknown',
      pid: Number(l[Labels.lockPid] ?? 0),
      since: l[Labels.lockSince] ?? 'unknown',
      command: l[Labels.lockCommand] ?? 'unknown',
    };
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
}

/** Removes the lock only if it is still the one with this id (unlock ID, or our own release). */
export async function releaseLock(engine: Docker, project: string, id: string): Promise<'released' | 'not-held' | 'other-holder'> {
  return withEngine(async () => {
    const current = await readLock(engine, project);
    if (!current) return 'not-held';
    if (current.id !== id) return 'other-holder';
    try {
      await engine.getContainer(lockContainerName(project)).remove({ force: true });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    return 'released';
  });
}

function lockedError(project: string, holder: LockInfo | null): DiagnosticsError {
  const who = holder
    ? `held by ${holder.holder} pid ${holder.pid} (${holder.command}) since ${holder.since}, lock ID ${holder.id}`
    : 'held by another run that just released it';
  return new DiagnosticsError([
    errorDiag(`project '${project}' is locked: another apply is running on this engine (${who})`, {
      hint: holder
        ? `wait for it to finish; if that run is gone, remove the stale lock with \`sandboxshift unlock ${holder.id}\``
        : 'run the command again',
    }),
  ]);
}

async function ensureLockImage(engine: Docker): Promise<void> {
  try {
    await engine.getImage(LOCK_IMAGE).inspect();
    return;
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
  const p = pack();
  p.entry({ name: 'lock', mode: 0o644, mtime: new Date(0) }, 'sandboxshift lock placeholder; never runs\n');
  p.finalize();
  const [repo, tag] = LOCK_IMAGE.split(':');
  const stream = await engine.importImage(p as unknown as NodeJS.ReadableStream, { repo, tag });
  await new Promise<void>((resolve, reject) => engine.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
}
