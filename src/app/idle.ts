// Idle policies as library calls: the watcher's stop or pause at the deadline, `wake` and
// `touch`. Each change goes through the engine lock, and the idle record goes up before the
// container is stopped, so a reconcile (here or on another machine) never takes the stop for drift.
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import type { Docker, Engine } from '../engine/client.js';
import { copyWaitMs } from '../engine/copy-freeze.js';
import { copyHoldsPause } from '../engine/copying-record.js';
import { clearIdle, recordIdle, recordTouch } from '../engine/idle-record.js';
import { Labels } from '../engine/labels.js';
import { unlessMissing } from '../engine/records.js';
import { acquireLock, readLock, type LockInfo } from '../engine/lock.js';
import { withLock } from './lock.js';
import { NEVER_STARTED, neverStartedError } from './never-started.js';

/** SIGTERM first; whatever is still running after this many seconds is killed. */
export const IDLE_STOP_GRACE_SECONDS = 5;

export interface IdleAction {
  project: string;
  environment: string;
  containerId: string;
  action: 'stop' | 'pause';
  /** The last activity (ms): recorded as "idle since". */
  since: number;
}

export type IdleActionOutcome = { status: 'done'; elapsedMs: number } | { status: 'gone' | 'not-running' };

export type IdleBatchOutcome = { status: 'locked'; holder: LockInfo | null } | { status: 'done'; outcomes: Map<string, IdleActionOutcome> };

/** At most this many stops at once: each mostly waits for its container to exit. */
const STOPS_AT_ONCE = 16;

/**
 * Stops (SIGTERM, grace, SIGKILL) or pauses idle environments of one project, all under one
 * take of the engine lock, so environments due together are not stopped one lock at a time.
 */
export async function enforceIdle(engine: Engine, project: string, actions: readonly IdleAction[]): Promise<IdleBatchOutcome> {
  const docker = await engine.docker();
  let lock;
  try {
    lock = await acquireLock(docker, project, 'watch (idle policy)');
  } catch (err) {
    if (isLocked(err)) return { status: 'locked', holder: await readLock(docker, project) };
    throw err;
  }
  try {
    const outcomes = new Map<string, IdleActionOutcome>();
    const queue = [...actions];
    const worker = async () => {
      for (let a = queue.shift(); a; a = queue.shift()) outcomes.set(a.environment, await enforceOne(docker, a));
    };
    await Promise.all(Array.from({ length: Math.min(STOPS_AT_ONCE, queue.length) }, worker));
    return { status: 'done', outcomes };
  } finally {
    await lock.release();
  }
}

async function enforceOne(docker: Docker, a: IdleAction): Promise<IdleActionOutcome> {
  const started = Date.now();
  const c = docker.getContainer(a.containerId);
  const info = await unlessMissing(c.inspect());
  if (!info) return { status: 'gone' };
  if (info.State.Status !== 'running') return { status: 'not-running' };
  await recordIdle(docker, a.project, { environment: a.environment, since: new Date(a.since).toISOString(), action: a.action, containerId: a.containerId });
  try {
    if (a.action === 'pause') await c.pause();
    else await c.stop({ t: IDLE_STOP_GRACE_SECONDS });
  } catch (err) {
    await clearIdle(docker, a.project, a.environment);
    throw err;
  }
  return { status: 'done', elapsedMs: Date.now() - started };
}

/** The environment's container, by its labels (a renamed one still counts), or a diagnostic. */
async function environmentContainer(docker: Docker, project: string, env: string): Promise<{ id: string; state: string }> {
  const found = await docker.listContainers({ all: true, filters: { label: [`${Labels.project}=${project}`, `${Labels.environment}=${env}`, `${Labels.role}=environment`] } });
  const c = found[0];
  if (!c) throw new DiagnosticsError([errorDiag(`environment '${env}' has no container on the engine`, { hint: 'run sandboxshift apply to create it' })]);
  return { id: c.Id, state: c.State };
}

export interface WakeOutcome {
  /** What was done: started, unpaused, or nothing (already running). */
  did: 'started' | 'unpaused' | 'none';
  elapsedMs: number;
}

function isLocked(err: unknown): boolean {
  return err instanceof DiagnosticsError && err.diagnostics.some((d) => d.message.includes('is locked'));
}

/**
 * A watcher holds the lock for each reconcile, and each idle stop makes one (its own engine
 * events): a moment on Docker, a second or two on Podman (an inspect per environment). `wake`
 * waits that long for a watcher, not for an apply.
 */
export const WAKE_WAITS_FOR_WATCH_MS = 15_000;

/** Starts or unpauses an environment and forgets its idle record; counts as activity. */
export async function wake(engine: Engine, project: string, env: string, options: { unlockArgs?: string[] } = {}): Promise<WakeOutcome> {
  const docker = await engine.docker();
  const deadline = Date.now() + WAKE_WAITS_FOR_WATCH_MS;
  for (;;) {
    try {
      return await wakeLocked(engine, docker, project, env, options);
    } catch (err) {
      if (!isLocked(err) || Date.now() > deadline) throw err;
      const holder = await readLock(docker, project);
      if (holder && !holder.command.startsWith('watch')) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function wakeLocked(engine: Engine, docker: Docker, project: string, env: string, options: { unlockArgs?: string[] }): Promise<WakeOutcome> {
  return withLock(engine, project, { command: `wake ${env}`, unlockArgs: options.unlockArgs }, async () => {
    const c = await environmentContainer(docker, project, env);
    if (c.state === NEVER_STARTED) throw neverStartedError(env, options.unlockArgs);
    const started = Date.now();
    let did: WakeOutcome['did'] = 'none';
    if (c.state === 'paused') {
      if (await pausedAfterCopies(docker, project, env, c.id)) {
        await docker.getContainer(c.id).unpause();
        did = 'unpaused';
      }
    } else if (c.state !== 'running' && c.state !== 'restarting') {
      await docker.getContainer(c.id).start();
      did = 'started';
    }
    const elapsedMs = Date.now() - started;
    await recordTouch(docker, project, env, Date.now());
    await clearIdle(docker, project, env);
    return { did, elapsedMs };
  });
}

/**
 * A running `sandboxshift cp` may hold the environment paused while it copies (copy-freeze.ts):
 * waited for (as long as a cp waits for another), never unpaused under it. Whether the container
 * is still paused once no cp holds it (a cp that found it paused by an idle policy leaves it so).
 */
async function pausedAfterCopies(docker: Docker, project: string, env: string, id: string): Promise<boolean> {
  const deadline = Date.now() + copyWaitMs();
  while (await copyHoldsPause(docker, project, env, id)) {
    if (Date.now() > deadline) throw new DiagnosticsError([errorDiag(`environment '${env}' is held paused by a sandboxshift cp that is still copying`, { hint: 'try again once that copy is done' })]);
    await new Promise((r) => setTimeout(r, 250));
  }
  return (await docker.getContainer(id).inspect()).State.Paused === true;
}

/** Records activity from outside: the idle clock of the environment starts again now. */
export async function touch(engine: Engine, project: string, env: string): Promise<number> {
  const docker = await engine.docker();
  await environmentContainer(docker, project, env);
  const at = Date.now();
  await recordTouch(docker, project, env, at);
  return at;
}
