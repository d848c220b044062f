// The copying record a `sandboxshift cp` keeps while it holds an environment paused
// (copy-freeze.ts), as everything else reads it: plan (a live cp's pause is not drift), wake and
// apply's unpause (they wait for, or leave, a pause that is a live cp's). Light: labels and the
// holder's liveness only.
import { holderGone, type Holder } from './holder.js';
import { Labels } from './labels.js';
import type { CopyingMark } from '../model/observed.js';

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

/** Whether a live cp holds `containerId` paused now: its pause is that cp's to end. */
export async function copyHoldsPause(
  lister: { listContainers(options: { all: boolean; filters: Record<string, string[]> }): Promise<Array<{ Labels?: Record<string, string> }>> },
  project: string,
  env: string,
  containerId: string,
): Promise<boolean> {
  const found = await lister.listContainers({ all: true, filters: { label: [`${Labels.project}=${project}`, `${Labels.environment}=${env}`, `${Labels.role}=copying`] } });
  const mark = copyingMarks(found).get(env);
  return mark !== undefined && mark.live && mark.containerId === containerId;
}
