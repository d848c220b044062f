// A change that keeps failing under `watch`, recorded on the engine (see records.ts) so `status`
// on any machine shows it: the address, how many failures in a row, since when, the step and the
// error (the executor's message, clipped; it never holds a secret value). A new count is a new
// record, created before the older ones are removed; a success removes them all.
import { failingRecordName } from '../model/names.js';
import type { Docker } from './client.js';
import { Labels } from './labels.js';
import { createRecord, findRecords, removeRecord } from './records.js';

export interface FailingChange {
  address: string;
  /** Failures in a row. */
  count: number;
  /** ISO times of the first and the last failure of the run. */
  since: string;
  last: string;
  step: string | null;
  error: string;
}

const ERROR_MAX = 300;
const recordLabels = (project: string) => ({ [Labels.project]: project, [Labels.role]: 'failing' });

export async function recordFailing(engine: Docker, project: string, f: FailingChange): Promise<void> {
  const existing = (await findRecords(engine, recordLabels(project))).filter((r) => r.labels[Labels.failingAddress] === f.address);
  const error = f.error.length > ERROR_MAX ? `${f.error.slice(0, ERROR_MAX)}…` : f.error;
  await createRecord(
    engine,
    failingRecordName(project, f.address, f.count),
    {
      ...recordLabels(project),
      [Labels.failingAddress]: f.address,
      [Labels.failingCount]: String(f.count),
      [Labels.failingSince]: f.since,
      [Labels.failingLast]: f.last,
      [Labels.failingStep]: f.step ?? '',
      [Labels.failingError]: error,
    },
    'this failing record',
  );
  for (const r of existing) if (r.labels[Labels.failingCount] !== String(f.count)) await removeRecord(engine, r.id);
}

/** These changes succeeded: their failing records go (one list call). */
export async function clearFailing(engine: Docker, project: string, addresses: ReadonlySet<string>): Promise<void> {
  for (const r of await findRecords(engine, recordLabels(project))) if (addresses.has(r.labels[Labels.failingAddress] ?? '')) await removeRecord(engine, r.id);
}

/** Every failing change of the project, the highest count per address. */
export async function readFailing(engine: Docker, project: string): Promise<FailingChange[]> {
  return failingFromLabels((await findRecords(engine, recordLabels(project))).map((r) => r.labels));
}

export function failingFromLabels(records: ReadonlyArray<Readonly<Record<string, string>>>): FailingChange[] {
  const best = new Map<string, FailingChange>();
  for (const l of records) {
    const address = l[Labels.failingAddress];
    const count = Number(l[Labels.failingCount]);
    if (!address || !Number.isInteger(count) || count < 1) continue;
    const f: FailingChange = { address, count, since: l[Labels.failingSince] ?? '', last: l[Labels.failingLast] ?? '', step: l[Labels.failingStep] || null, error: l[Labels.failingError] ?? '' };
    const seen = best.get(address);
    if (!seen || seen.count < f.count) best.set(address, f);
  }
  return [...best.values()].sort((a, b) => a.address.localeCompare(b.address));
}
