// Idleness, recorded on the engine (see records.ts), so `plan` on any machine and a new watcher
// see what a watcher's idle policy did: an `idle-stopped` record names the environment, the
// container it stopped or paused, since when it was idle and what was done. `touch` records keep
// the time of the last `sandboxshift touch`. A record goes up BEFORE the container is stopped,
// so the stop's own engine event never looks like drift to a watcher's reconcile.
import { idleRecordName, touchRecordName } from '../model/names.js';
import type { IdleMark } from '../model/observed.js';
import type { Docker } from './client.js';
import { Labels } from './labels.js';
import { createRecord, findRecords, removeRecord } from './records.js';

const idleLabels = (project: string, env: string) => ({ [Labels.project]: project, [Labels.environment]: env, [Labels.role]: 'idle-stopped' });
const touchLabels = (project: string, env: string) => ({ [Labels.project]: project, [Labels.environment]: env, [Labels.role]: 'touch' });

export async function recordIdle(engine: Docker, project: string, mark: IdleMark): Promise<void> {
  await clearIdle(engine, project, mark.environment);
  const labels = { ...idleLabels(project, mark.environment), [Labels.idleSince]: mark.since, [Labels.idleAction]: mark.action, [Labels.idleContainer]: mark.containerId };
  await createRecord(engine, idleRecordName(project, mark.environment), labels, 'an idle record');
}

export async function clearIdle(engine: Docker, project: string, env: string): Promise<void> {
  for (const r of await findRecords(engine, idleLabels(project, env))) await removeRecord(engine, r.id);
}

/** Records activity from outside at `at` (ms); older touch records of the environment go. */
export async function recordTouch(engine: Docker, project: string, env: string, at: number): Promise<void> {
  await createRecord(engine, touchRecordName(project, env, at), { ...touchLabels(project, env), [Labels.touchedAt]: String(at) }, 'a touch record');
  for (const r of await findRecords(engine, touchLabels(project, env))) if (r.labels[Labels.touchedAt] !== String(at)) await removeRecord(engine, r.id);
}

/** Every idle-stopped, touch and copying record of an environment: its container is gone, so none describes anything. */
export async function removeActivityRecords(engine: Docker, project: string, env: string): Promise<void> {
  const copying = { [Labels.project]: project, [Labels.environment]: env, [Labels.role]: 'copying' };
  for (const labels of [idleLabels(project, env), touchLabels(project, env), copying]) for (const r of await findRecords(engine, labels)) await removeRecord(engine, r.id);
}

interface Listed {
  Id: string;
  State: string;
  /** Unix seconds (the list's whole seconds). */
  Created?: number;
  Labels?: Record<string, string>;
}

/**
 * Idle marks from the project's container list: a record counts only while the container it
 * names is still there and stopped or paused (as it said), so a started or recreated
 * environment is simply not idle, whatever records are left.
 */
export function idleMarks(containers: readonly Listed[]): Map<string, IdleMark> {
  const state = new Map(containers.map((c) => [c.Id, c.State]));
  const out = new Map<string, IdleMark>();
  for (const c of containers) {
    const l = c.Labels ?? {};
    const env = l[Labels.environment];
    if (l[Labels.role] !== 'idle-stopped' || !env) continue;
    const action = l[Labels.idleAction] === 'pause' ? 'pause' : 'stop';
    const containerId = l[Labels.idleContainer] ?? '';
    const now = state.get(containerId);
    const still = action === 'pause' ? now === 'paused' : now === 'exited' || now === 'created';
    if (!still) continue;
    out.set(env, { environment: env, since: l[Labels.idleSince] ?? '', action, containerId });
  }
  return out;
}

/**
 * The marks whose container was started again after its idle record was made (a `docker start`
 * by hand, then a stop or a crash): those are not the policy's doing, so they lapse. `startedAt`
 * is each marked container's last start (ms, from inspect). The record is made before the stop,
 * at least stopAfter (1 s or more) after that start, so its whole-second `Created` still comes
 * after the start the policy saw.
 */
export function startedSinceMarked(containers: readonly Listed[], marks: ReadonlyMap<string, IdleMark>, startedAt: ReadonlyMap<string, number>): Set<string> {
  const lapsed = new Set<string>();
  for (const c of containers) {
    const l = c.Labels ?? {};
    const env = l[Labels.environment];
    const mark = env ? marks.get(env) : undefined;
    if (l[Labels.role] !== 'idle-stopped' || !env || !mark || l[Labels.idleContainer] !== mark.containerId || c.Created === undefined) continue;
    const started = startedAt.get(mark.containerId);
    if (started !== undefined && started > c.Created * 1000) lapsed.add(env);
  }
  return lapsed;
}

export function touchTimes(containers: readonly Listed[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of containers) {
    const l = c.Labels ?? {};
    const env = l[Labels.environment];
    const at = Number(l[Labels.touchedAt]);
    if (l[Labels.role] !== 'touch' || !env || !Number.isFinite(at)) continue;
    out.set(env, Math.max(out.get(env) ?? 0, at));
  }
  return out;
}

/** Environments with idle-stopped, touch or copying records, whether or not they still count (see idleMarks). */
export function activityRecordEnvironments(containers: readonly Listed[]): Set<string> {
  const out = new Set<string>();
  for (const c of containers) {
    const l = c.Labels ?? {};
    const env = l[Labels.environment];
    if ((l[Labels.role] === 'idle-stopped' || l[Labels.role] === 'touch' || l[Labels.role] === 'copying') && env) out.add(env);
  }
  return out;
}
