// protect, recorded on the engine (see records.ts): a record labelled with the project, the
// environment and the value. A new value is a new record: created first, then the others
// removed, so a crash in between leaves both (read as protected).
import { protectRecordName } from '../model/names.js';
import type { Docker } from './client.js';
import { Labels } from './labels.js';
import { createRecord, findRecords, removeRecord } from './records.js';

const recordLabels = (project: string, env: string) => ({ [Labels.project]: project, [Labels.environment]: env, [Labels.role]: 'protect' });

export async function recordProtect(engine: Docker, project: string, env: string, protect: boolean): Promise<void> {
  const labels = { ...recordLabels(project, env), [Labels.protect]: String(protect) };
  await createRecord(engine, protectRecordName(project, env, protect), labels, 'this protect record');
  for (const r of await findRecords(engine, recordLabels(project, env))) if (r.labels[Labels.protect] !== String(protect)) await removeRecord(engine, r.id);
}

/** Every record of an environment, when its workspace volume is gone. */
export async function removeProtectRecords(engine: Docker, project: string, env: string): Promise<void> {
  for (const r of await findRecords(engine, recordLabels(project, env))) await removeRecord(engine, r.id);
}
