// One apply at a time per project and engine: the engine lock is held for the whole of the
// work and given back however the run ends: normally, on an error, or on SIGINT or SIGTERM
// (then every lock the process holds is given back, and it exits 130 or 143, the shell's codes
// for those signals). Work in flight may be cut short by a signal; the next plan shows exactly
// what is left.
import type { Engine } from '../engine/client.js';
import { acquireLock, releaseHeldLocks, type LockInfo } from '../engine/lock.js';

export type StopSignal = 'SIGINT' | 'SIGTERM';

export const SIGNAL_EXIT_CODES: Readonly<Record<StopSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

export interface LockOptions {
  /** Recorded on the lock, shown to whoever finds it held (e.g. `apply`). */
  command: string;
  /** Told first when a signal stops the run, before the lock is given back (e.g. to say so on stderr). */
  onSignal?: (signal: StopSignal) => void;
  /** Extra arguments the `unlock` hint of a "locked" error needs, e.g. `['-c', 'other.yaml']`. */
  unlockArgs?: string[];
  /** Told before a stale lock of this host (its holder gone) is taken over. */
  onTakeover?: (stale: LockInfo) => void;
}

export async function withLock<T>(engine: Engine, project: string, options: LockOptions, work: () => Promise<T>): Promise<T> {
  const acquiring = engine.docker().then((docker) => acquireLock(docker, project, options.command, { unlockArgs: options.unlockArgs, onTakeover: options.onTakeover }));
  let stopping = false;
  const stop = (signal: StopSignal) => {
    // A second signal while the lock is being given back (a hung engine): stop at once.
    if (stopping) process.exit(SIGNAL_EXIT_CODES[signal]);
    stopping = true;
    options.onSignal?.(signal);
    // The project's lock, and any taken inside the work (a shared image's build lock, the
    // engine-wide policy lock): a lock left behind holds up other hosts until someone removes it.
    const ours = acquiring.then((lock) => lock.release()).catch(() => undefined); // not acquired, or the engine is gone: nothing of ours to give back
    void Promise.all([ours, releaseHeldLocks()]).finally(() => process.exit(SIGNAL_EXIT_CODES[signal]));
  };
  const onInt = () => stop('SIGINT');
  const onTerm = () => stop('SIGTERM');
  // Registered in the same tick as the acquire starts, so no signal falls between the two.
  // `on`, not `once`: Ink's exit hook (signal-exit) kills the process again with the signal when
  // it sees no other listener left, before the lock is given back.
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const lock = await acquiring;
    try {
      return await work();
    } finally {
      if (!stopping) await lock.release();
    }
  } finally {
    if (!stopping) {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
    }
  }
}
