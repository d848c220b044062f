// protect, recorded on the engine: a container that never starts (the lock's tiny image),
// labelled with the project, the environment and the value. Labels cannot change, so a new
// value is a new record: created first, then the others removed, so a crash in between leaves
// both (read as protected). A container we did not create (without our labels) is never
// written to or removed.
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
    const labels = await labelsByName(engine, name);
    if (!isRecordOf(labels, project, env) || labels?.[Labels.protect] !== String(protect)) {
      throw new Error(`a container named ${name} exists that sandboxshift did not create as this protect record; rename or remove it, then apply again`, { cause: err });
    }
  }
  // By label, not by name: a record renamed outside sandboxshift still counts, and still goes.
  for (const r of await recordsOf(engine, project, env)) if (r.protect !== protect) await removeById(engine, r.id);
}

/** Every record of an environment, when its workspace volume is gone. */
export async function removeProtectRecords(engine: Docker, project: string, env: string): Promise<void> {
  for (const r of await recordsOf(engine, project, env)) await removeById(engine, r.id);
}

/** Our records only: the same label filter observe() reads them with. */
async function recordsOf(engine: Docker, project: string, env: string): Promise<Array<{ id: string; protect: boolean }>> {
  const filters = { label: [`${Labels.project}=${project}`, `${Labels.environment}=${env}`, `${Labels.role}=protect`] };
  const found = await engine.listContainers({ all: true, filters });
  return found.map((c) => ({ id: c.Id, protect: c.Labels?.[Labels.protect] === 'true' }));
}

async function removeById(engine: Docker, id: string): Promise<void> {
  try {
    await engine.getContainer(id).remove({ force: true });
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
}

function isRecordOf(labels: Record<string, string> | null, project: string, env: string): boolean {
  return labels?.[Labels.project] === project && labels[Labels.environment] === env && labels[Labels.role] === 'protect';
}

async function labelsByName(engine: Docker, name: string): Promise<Record<string, string> | null> {
  try {
    return (await engine.getContainer(name).inspect()).Config.Labels ?? {};
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
}
