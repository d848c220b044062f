// A workspace fill (seed or moved copy) in progress, recorded on the engine (see records.ts):
// made before the first byte is written and removed after the last, so a fill cut short
// (SIGKILL, a failed step, the container removed before it ever started) is seen by the next
// plan, which fills again.
import { fillingRecordName } from '../model/names.js';
import type { Docker } from './client.js';
import { Labels } from './labels.js';
import { createRecord, findRecords, removeRecord } from './records.js';

const recordLabels = (project: string, env: string) => ({ [Labels.project]: project, [Labels.environment]: env, [Labels.role]: 'filling' });

export async function markFilling(engine: Docker, project: string, env: string): Promise<void> {
  await createRecord(engine, fillingRecordName(project, env), recordLabels(project, env), 'a fill record');
}

export async function markFilled(engine: Docker, project: string, env: string): Promise<void> {
  for (const r of await findRecords(engine, recordLabels(project, env))) await removeRecord(engine, r.id);
}
