// While `sandboxshift cp` reads or writes a running environment's files, the container is
// paused. The engine's archive API resolves a path again when it copies, following symlinks as
// root: a process in the sandbox that swaps a folder of the path for a symlink between cp's
// checks and the copy (CVE-2018-15664's race) would have cp write into /etc or read a root-only
// file. Frozen, nothing in the sandbox runs between the checks and the copy. Podman's cp pauses
// by default for the same reason.
//
// The pause is recorded first, in a never-started `copying` record (ss.PROJECT.ENV.copying,
// its holder's host, pid and start time in labels), so plan, apply and watch see a pause that
// is cp's and leave it alone; a record whose holder is gone (this host, no such process) is
// stale, and its pause is drift again. The record's name also makes copies of one environment
// take turns: a second cp waits for the first. Over our own HTTP on a plain socket, so the
// short path loads neither dockerode nor lock.ts.
import { CopyRefused } from './archive-copy.js';
import { statusCode, type Engine } from './client.js';
import { holderGone, thisHolder, type Holder } from './holder.js';
import { Labels } from './labels.js';
import { rawJson } from './raw-get.js';
import { plainTarget, type Target } from './reader.js';
import { ensureLockImage, LOCK_IMAGE } from './record-image.js';
import { copyingRecordName } from '../model/names.js';
import type { CopyingMark } from '../model/observed.js';

export interface CopyFreeze {
  /** Unpauses the container (when this cp paused it) and removes the record; safe to call twice. */
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
  /** Creates the record: false when its name is taken. */
  createRecord(name: string, labels: Record<string, string>): Promise<boolean>;
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

/** The holder a copying record names. */
export function copyingHolder(labels: Record<string, string>): Holder & { since: string } {
  return { holder: labels[Labels.lockHolder] ?? '', pid: Number(labels[Labels.lockPid] ?? 0), pidStarted: labels[Labels.lockPidStarted] ?? null, since: labels[Labels.lockSince] ?? '' };
}

/** Copying records in the project's container list, by environment, each judged live or stale from this host. */
export function copyingMarks(containers: ReadonlyArray<{ Labels?: Record<string, string> }>): Map<string, CopyingMark> {
  const out = new Map<string, CopyingMark>();
  for (const c of containers) {
    const l = c.Labels ?? {};
    const env = l[Labels.environment];
    if (l[Labels.role] !== 'copying' || !env) continue;
    const h = copyingHolder(l);
    out.set(env, { environment: env, containerId: l[Labels.copyContainer] ?? '', holder: h.holder, pid: h.pid, since: h.since, live: !holderGone(h) });
  }
  return out;
}

/** How long a cp waits for another cp of the same environment: SANDBOXSHIFT_COPY_WAIT seconds (default 600). */
export function copyWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SANDBOXSHIFT_COPY_WAIT;
  if (raw === undefined || raw === '') return 600_000;
  if (!/^\d+$/.test(raw)) throw new CopyRefused(`SANDBOXSHIFT_COPY_WAIT=${raw} is not a whole number of seconds`, 'write e.g. SANDBOXSHIFT_COPY_WAIT=600');
  return Number(raw) * 1000;
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
  await takeRecord(engine, calls, name, labels, at, notice);
  let thawing: Promise<void> | undefined;
  let paused = false;
  const thaw = () => {
    thawing ??= (async () => {
      for (const [signal, handler] of handlers) process.removeListener(signal, handler);
      try {
        if (paused) await calls.unpause(at.containerId);
      } finally {
        await calls.remove(name);
      }
    })();
    return thawing;
  };
  // A signal mid-copy unpauses and removes the record before the process ends; a second one
  // (an engine that does not answer) ends it at once. SIGKILL leaves both: the record is then
  // stale, and the next plan unpauses the container.
  const handlers = Object.entries(SIGNALS).map(([signal, code]) => {
    const handler = () => {
      if (thawing) process.exit(code);
      void thaw()
        .catch(() => undefined)
        .finally(() => process.exit(code));
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  try {
    paused = await calls.pause(at.containerId);
  } catch (err) {
    await thaw().catch(() => undefined);
    throw err;
  }
  return { thaw };
}

async function takeRecord(engine: Engine, calls: FreezeCalls, name: string, labels: Record<string, string>, at: FreezeTarget, notice: (text: string) => void): Promise<void> {
  const deadline = Date.now() + copyWaitMs();
  let wait = FIRST_WAIT_MS;
  let told = false;
  let imported = false;
  for (;;) {
    let created: boolean;
    try {
      created = await calls.createRecord(name, labels);
    } catch (err) {
      // No record image yet on this engine: imported once, then tried again.
      if (statusCode(err) !== 404 || imported) throw err;
      imported = true;
      await ensureLockImage(await engine.docker());
      continue;
    }
    if (created) return;
    const found = await calls.inspect(name);
    if (!found) continue; // the other cp just finished
    const l = found.labels;
    if (l[Labels.role] !== 'copying' || l[Labels.project] !== at.project || l[Labels.environment] !== at.env) {
      throw new CopyRefused(`a container named ${name} exists that sandboxshift did not create; cp records a copy under that name`, `rename or remove it (docker rm ${name}), then copy again`);
    }
    const other = copyingHolder(l);
    if (holderGone(other)) {
      await calls.remove(found.id); // a cp of this host that was killed: its record is stale
      continue;
    }
    if (Date.now() > deadline) {
      throw new CopyRefused(
        `another sandboxshift cp of environment.${at.env} (pid ${other.pid} on ${other.holder}, since ${other.since}) is still copying`,
        `copy again once it is done (SANDBOXSHIFT_COPY_WAIT sets how long to wait), or remove its record (docker rm ${name}) if that cp is gone`,
      );
    }
    if (!told) {
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
    createRecord: (name, labels) => doneUnless(rawJson(target, 'POST', `/containers/create?name=${encodeURIComponent(name)}`, recordBody(labels)), 409),
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
    createRecord: async (name, labels) => doneUnless((await engine.docker()).createContainer({ name, ...recordBody(labels) }), 409),
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
