// Facts that must change after creation live in records: containers that never start (the
// lock's tiny image), whose labels are the fact. Labels cannot change, so a new fact is a new
// record. A container with a record's name that lacks the record's labels is not ours: it is
// never reused or removed. Records are found by their labels, so one renamed by hand still counts.
import { VERSION } from '../version.js';
import { statusCode, type Docker } from './client.js';
import { Labels } from './labels.js';
import { ensureLockImage, LOCK_IMAGE } from './lock.js';

/** Creates the record `name` with `labels`, or accepts one of ours already there with the same labels. */
export async function createRecord(engine: Docker, name: string, labels: Record<string, string>, what: string): Promise<void> {
  await ensureLockImage(engine);
  try {
    await engine.createContainer({ name, Image: LOCK_IMAGE, Cmd: ['/lock'], Labels: { ...labels, [Labels.version]: VERSION }, HostConfig: { NetworkMode: 'none' } });
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
    // Ours from an interrupted run is the record we want; anything else is not ours to reuse.
    const found = await unlessMissing(engine.getContainer(name).inspect());
    const same = found !== null && Object.entries(labels).every(([k, v]) => found.Config.Labels?.[k] === v);
    if (!same) throw new Error(`a container named ${name} exists that sandboxshift did not create as ${what}; rename or remove it, then apply again`, { cause: err });
  }
}

/** Our records matching every label in `labels` (the same label filter observe() reads them with). */
/** What finding records needs: a Docker client, or the light reader through `readerLister`. */
export interface ContainerLister {
  listContainers(options: { all: boolean; filters: Record<string, string[]> }): Promise<Docker.ContainerInfo[]>;
}

/** The light reader (no dockerode import) as a ContainerLister. */
export function readerLister(reader: { listContainers(filters: Record<string, string[]>): Promise<Docker.ContainerInfo[]> }): ContainerLister {
  return { listContainers: (options) => reader.listContainers(options.filters) };
}

export async function findRecords(engine: ContainerLister, labels: Record<string, string>): Promise<Array<{ id: string; labels: Record<string, string> }>> {
  const found = await engine.listContainers({ all: true, filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });
  return found.map((c) => ({ id: c.Id, labels: c.Labels ?? {} }));
}

export async function removeRecord(engine: Docker, id: string): Promise<void> {
  await unlessMissing(engine.getContainer(id).remove({ force: true }));
}

/** The engine's answer, or null when the object is gone (404); any other error propagates. */
export async function unlessMissing<T>(call: Promise<T>): Promise<T | null> {
  try {
    return await call;
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
}
