// protect, recorded on the engine: a container that never starts (the lock's tiny image),
// labelled with the project, the environment and the value. Labels cannot change, so a new
// value is a new record: created first, then the other removed, so a crash in between leaves
// both (read as protected). A container we did not create is never written to or removed.
import { VERSION } from '../version.js';
import { protectRecordName } from '../model/names.js';
import { statusCode, type Docker } from './client.js';
import { Labels } from './labels.js';
import { ensureLockImage, LOCK_IMAGE } from './lock.js';

export async function recordProtect(engine: Docker, project: string, env: string, protect: boolean): Promise<void> {
  await ensureLockImage(engine);
  const name = protectRecordName(project, env, protect);
  try {
    await engine.createContainer({
      name,
      Image: LOCK_IMAGE,
      Cmd: ['/lock'],
      Labels: {
        [Labels.project]: project,
        [Labels.environment]: env,
        [Labels.role]: 'protect',
        [Labels.protect]: String(protect),
        [Labels.version]: VERSION,
      },
      HostConfig: { NetworkMode: 'none' },
    });
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
    // Ours from an interrupted run is fine as it is; anything else is not ours to reuse.
    const labels = (await inspectByName(engine, name))?.labels ?? null;
    if (!isRecordOf(labels, project, env) || labels?.[Labels.protect] !== String(protect)) {
      throw new Error(`a container named ${name} exists that sandboxshift did not create as this protect record; rename or remove it, then apply again`);
    }
  }
  await removeRecord(engine, project, env, protectRecordName(project, env, !protect));
}

/** Both records of an environment, when its workspace volume is gone. */
export async function removeProtectRecords(engine: Docker, project: string, env: string): Promise<void> {
  for (const protect of [false, true]) await removeRecord(engine, project, env, protectRecordName(project, env, protect));
}

async function removeRecord(engine: Docker, project: string, env: string, name: string): Promise<void> {
  const found = await inspectByName(engine, name);
  // Not there, or not ours (observe never counts it as a record): nothing of ours to remove.
  if (!found || !isRecordOf(found.labels, project, env)) return;
  try {
    await engine.getContainer(found.id).remove({ force: true });
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
}

function isRecordOf(labels: Record<string, string> | null, project: string, env: string): boolean {
  return labels?.[Labels.project] === project && labels[Labels.environment] === env && labels[Labels.role] === 'protect';
}

async function inspectByName(engine: Docker, name: string): Promise<{ id: string; labels: Record<string, string> } | null> {
  try {
    const info = await engine.getContainer(name).inspect();
    return { id: info.Id, labels: info.Config.Labels ?? {} };
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
}
