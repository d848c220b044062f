// The git commit `watch --git` last applied, recorded on the engine (see records.ts), so `status`
// on any machine and a new watcher see it. A new commit is a new record: created first, then the
// older ones removed, so a crash in between leaves two (the newest by time is read).
import { appliedRecordName } from '../model/names.js';
import type { Docker } from './client.js';
import { Labels } from './labels.js';
import { createRecord, findRecords, removeRecord } from './records.js';

export interface AppliedCommit {
  commit: string;
  /** ISO time of the reconcile that applied it. */
  at: string;
  /** `watch@HOST`. */
  by: string;
}

const recordLabels = (project: string) => ({ [Labels.project]: project, [Labels.role]: 'applied-commit' });

export async function recordAppliedCommit(engine: Docker, project: string, applied: AppliedCommit): Promise<void> {
  const labels = { ...recordLabels(project), [Labels.appliedCommit]: applied.commit, [Labels.appliedAt]: applied.at, [Labels.appliedBy]: applied.by };
  const existing = await findRecords(engine, recordLabels(project));
  // The same commit applied again keeps its first record (its time says when it was first applied).
  if (existing.some((r) => r.labels[Labels.appliedCommit] === applied.commit)) {
    for (const r of existing) if (r.labels[Labels.appliedCommit] !== applied.commit) await removeRecord(engine, r.id);
    return;
  }
  await createRecord(engine, appliedRecordName(project, applied.commit), labels, 'this applied-commit record');
  for (const r of existing) await removeRecord(engine, r.id);
}

/** The commit last applied to `project`, or null when no watcher has applied one. */
export async function readAppliedCommit(engine: Docker, project: string): Promise<AppliedCommit | null> {
  const found = (await findRecords(engine, recordLabels(project)))
    .map((r) => ({ commit: r.labels[Labels.appliedCommit] ?? '', at: r.labels[Labels.appliedAt] ?? '', by: r.labels[Labels.appliedBy] ?? '' }))
    .filter((r) => /^[0-9a-f]{7,64}$/.test(r.commit))
    .sort((a, b) => b.at.localeCompare(a.at));
  return found[0] ?? null;
}
