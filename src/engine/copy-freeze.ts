// While `sandboxshift cp` reads or writes a running environment's files, the container is
// paused. The engine's archive API resolves a path again when it copies, following symlinks as
// root: a process in the sandbox that swaps a folder of the path for a symlink between cp's
// checks and the copy (CVE-2018-15664's race) would have cp write into /etc or read a root-only
// file. Frozen, nothing in the sandbox runs between the checks and the copy (Podman 1.4 made its
// own cp pause for the same reason).
//
// The pause is recorded first, in a never-started `copying` record (ss.PROJECT.ENV.copying,
// its holder's host, pid and start time in labels), so plan, apply and watch see a pause that
// is cp's and leave it alone; a record whose holder is gone (this host, no such process) is
// stale, and its pause is drift again. The record's name also makes copies of one environment
// take turns: a second cp waits for the first. Over our own HTTP on a plain socket, so the
// short path loads neither dockerode nor lock.ts.
import { CopyRefused } from './archive-copy.js';
import { statusCode, type Engine } from './client.js';
import { copyingHolder } from './copying-record.js';
import { holderGone, thisHolder, waitSeconds } from './holder.js';
import { Labels } from './labels.js';
import { abortRawRequests, rawJson } from './raw-get.js';
import { plainTarget, type Target } from './reader.js';
import { ensureLockImage, LOCK_IMAGE } from './record-image.js';
import { copyingRecordName } from '../model/names.js';

export interface CopyFreeze {
  /** Unpauses the container (when this cp paused it) and removes its record; safe to call twice. */
  thaw(): Promise<void>;
}

export interface FreezeTarget {
  project: string;
  env: string;
  containerId: string;
}

/** Another cp's record, or what holds the record's name. */
interface Found {
  id: string;
  labels: Record<string, string>;
}

interface FreezeCalls {
  /** Creates the record: its ID, or null when its name is taken. */
  createRecord(name: string, labels: Record<string, string>): Promise<string | null>;
  /** The container's state (running, paused, exited…), or null when it is gone. */
  state(id: string): Promise<string | null>;
  inspect(name: string): Promise<Found | null>;
  remove(id: string): Promise<void>;
  /** false: the engine would not pause it (no longer running, or already paused). */
  pause(id: string): Promise<boolean>;
  unpause(id: string): Promise<void>;
}

const FIRST_WAIT_MS = 100;
const LONGEST_WAIT_MS = 1000;
/** Exit codes of the signals cp stops on, as a shell reports them. */
const SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/** How long a cp waits for another cp of the same environment: SANDBOXSHIFT_COPY_WAIT seconds (default 600). */
export function copyWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  return waitSeconds('SANDBOXSHIFT_COPY_WAIT', 600, env);
}

/**
 * Records the copy, then pauses the container. `notice` is told once when another cp of the
 * environment is waited for. Throws (having removed its record) when the record's name is held
 * by a container we did not make, or the wait runs out.
 */
export async function freezeForCopy(engine: Engine, at: FreezeTarget, notice: (text: string) => void): Promise<CopyFreeze> {
  const calls = freezeCalls(engine);
  const name = copyingRecordName(at.project, at.env);
  const me = thisHolder();
  const labels = {
    [Labels.project]: at.project,
    [Labels.environment]: at.env,
    [Labels.role]: 'copying',
    [Labels.copyContainer]: at.containerId,
    [Labels.lockHolder]: me.holder,
    [Labels.lockPid]: String(me.pid),
    ...(me.pidStarted ? { [Labels.lockPidStarted]: me.pidStarted } : {}),
    [Labels.lockSince]: new Date().toISOString(),
  };
  const record = await takeRecord(engine, calls, name, labels, at, notice);
  let thawing: Promise<void> | undefined;
  let pausing: Promise<boolean> = Promise.resolve(false);
  const thaw = () => {
    thawing ??= (async () => {
      for (const [signal, handler] of handlers) process.removeListener(signal, handler);
      // Only a pause of ours is ended: one the container already had (an idle policy's) stays.
      // The record goes at the same time (by ID: never another cp's under the same name): a plan
      // that sees the pause without it in between unpauses, as this does.
      const [unpaused, removed] = await Promise.allSettled([(async () => (await pausing.catch(() => true)) && calls.unpause(at.containerId))(), calls.remove(record)]);
      for (const r of [unpaused, removed]) if (r.status === 'rejected') throw r.reason;
    })();
    return thawing;
  };
  // A signal mid-copy first cuts the copy's connections to the engine (it stops the copy while
  // the sandbox is still paused), then unpauses and removes the record before the process ends.
  // SIGKILL leaves both: the record is then stale, and the next plan unpauses the container.
  const handlers = Object.entries(SIGNALS).map(([signal, code]) => {
    const handler = () => {
      abortRawRequests();
      void thaw()
        .catch(() => undefined)
        .finally(() => process.exit(code));
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  try {
    pausing = calls.pause(at.containerId);
    if (!(await pausing)) await notPaused(calls, at);
  } catch (err) {
    await thaw().catch(() => undefined);
    if (err instanceof CopyRefused) throw err;
    throw new CopyRefused(
      `could not pause environment.${at.env} to copy safely: ${(err as Error).message}`,
      'cp pauses a running environment while it copies; check that the engine can pause containers (docker pause)',
    );
  }
  return { thaw };
}

/** The engine would not pause it (409): fine when it is paused already or stopped; not when it runs on. */
async function notPaused(calls: FreezeCalls, at: FreezeTarget): Promise<void> {
  const state = await calls.state(at.containerId);
  if (state === 'running' || state === 'restarting') {
    throw new CopyRefused(`could not pause environment.${at.env} to copy safely: it is ${state}`, 'copy again in a moment');
  }
}

async function takeRecord(engine: Engine, calls: FreezeCalls, name: string, labels: Record<string, string>, at: FreezeTarget, notice: (text: string) => void): Promise<string> {
  const deadline = Date.now() + copyWaitMs();
  let wait = FIRST_WAIT_MS;
  let told = false;
  let imported = false;
  for (;;) {
    let created: string | null;
    try {
      created = await calls.createRecord(name, labels);
    } catch (err) {
      // No record image yet on this engine: imported once, then tried again.
      if (statusCode(err) !== 404 || imported) throw err;
      imported = true;
      await ensureLockImage(await engine.docker());
      continue;
    }
    if (created) return created;
    const found = await calls.inspect(name);
    const l = found?.labels ?? {};
    if (found && (l[Labels.role] !== 'copying' || l[Labels.project] !== at.project || l[Labels.environment] !== at.env)) {
      throw new CopyRefused(`a container named ${name} exists that sandboxshift did not create; cp records a copy under that name`, `rename or remove it (docker rm ${name}), then copy again`);
    }
    const other = copyingHolder(l);
    if (found && holderGone(other)) {
      await calls.remove(found.id); // a cp of this host that was killed: its record is stale
      continue;
    }
    // (no record found: the other cp just finished; asked again after the wait below)
    if (Date.now() > deadline) {
      throw new CopyRefused(
        `another sandboxshift cp of environment.${at.env} (pid ${other.pid} on ${other.holder}, since ${other.since}) is still copying`,
        `copy again once it is done (SANDBOXSHIFT_COPY_WAIT sets how long to wait), or remove its record (docker rm ${name}) if that cp is gone`,
      );
    }
    if (!told && found) {
      told = true;
      notice(`sandboxshift: waiting for another cp of ${at.env} to finish (pid ${other.pid} on ${other.holder}, since ${other.since})\n`);
    }
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, LONGEST_WAIT_MS);
  }
}

function freezeCalls(engine: Engine): FreezeCalls {
  const target = plainTarget();
  return target ? httpCalls(target) : dockerodeCalls(engine);
}

const gone = (err: unknown, ...codes: number[]) => {
  if (!codes.includes(statusCode(err) ?? 0)) throw err;
};

/** true once `call` is done; false when the engine answered with one of `codes` (the name taken, not running). */
async function doneUnless(call: Promise<unknown>, ...codes: number[]): Promise<boolean> {
  try {
    await call;
    return true;
  } catch (err) {
    gone(err, ...codes);
    return false;
  }
}

const recordBody = (labels: Record<string, string>) => ({ Image: LOCK_IMAGE, Cmd: ['/lock'], Labels: labels, HostConfig: { NetworkMode: 'none' } });

function httpCalls(target: Target): FreezeCalls {
  const path = (id: string, rest = '') => `/containers/${encodeURIComponent(id)}${rest}`;
  return {
    createRecord: async (name, labels) => {
      const made = await rawJson<{ Id: string }>(target, 'POST', `/containers/create?name=${encodeURIComponent(name)}`, recordBody(labels)).catch((err: unknown) => gone(err, 409));
      return made ? made.Id : null;
    },
    state: async (id) => {
      const c = await rawJson<{ State?: { Status?: string } }>(target, 'GET', path(id, '/json')).catch((err: unknown) => gone(err, 404));
      return c ? (c.State?.Status ?? null) : null;
    },
    inspect: async (name) => {
      const c = await rawJson<{ Id: string; Config?: { Labels?: Record<string, string> | null } }>(target, 'GET', path(name, '/json')).catch((err: unknown) => gone(err, 404));
      return c ? { id: c.Id, labels: c.Config?.Labels ?? {} } : null;
    },
    remove: async (id) => {
      await doneUnless(rawJson(target, 'DELETE', path(id, '?force=true')), 404);
    },
    pause: (id) => doneUnless(rawJson(target, 'POST', path(id, '/pause')), 409),
    unpause: async (id) => {
      await doneUnless(rawJson(target, 'POST', path(id, '/unpause')), 409, 404);
    },
  };
}

function dockerodeCalls(engine: Engine): FreezeCalls {
  const container = async (id: string) => (await engine.docker()).getContainer(id);
  return {
    createRecord: async (name, labels) => {
      const made = await (await engine.docker()).createContainer({ name, ...recordBody(labels) }).catch((err: unknown) => gone(err, 409));
      return made ? made.id : null;
    },
    state: async (id) => {
      const c = await (await container(id)).inspect().catch((err: unknown) => gone(err, 404));
      return c ? c.State.Status : null;
    },
    inspect: async (name) => {
      const c = await (await container(name)).inspect().catch((err: unknown) => gone(err, 404));
      return c ? { id: c.Id, labels: c.Config.Labels ?? {} } : null;
    },
    remove: async (id) => {
      await doneUnless((await container(id)).remove({ force: true }), 404);
    },
    pause: async (id) => doneUnless((await container(id)).pause(), 409),
    unpause: async (id) => {
      await doneUnless((await container(id)).unpause(), 409, 404);
    },
  };
}
