// A workspace fill (seed or moved copy) in progress, recorded on the engine: a container that
// never starts (the lock's tiny image), labelled with the project, the environment and the role
// `filling`. It is made before the first byte is written and removed after the last, so a fill
// cut short (SIGKILL, a failed step, the container removed before it ever started) is seen by
// the next plan, which fills again. A container we did not create is never reused or removed.
import { VERSION } from '../version.js';
import { fillingRecordName } from '../model/names.js';
import { statusCode, type Docker } from './client.js';
import { Labels } from './labels.js';
import { ensureLockImage, LOCK_IMAGE } from './lock.js';

export async function markFilling(engine: Docker, project: string, env: string): Promise<void> {
  await ensureLockImage(engine);
  const name = fillingRecordName(project, env);
  const labels = { [Labels.project]: project, [Labels.environment]: env, [Labels.role]: 'filling', [Labels.version]: VERSION };
  try {
    await engine.createContainer({ name, Image: LOCK_IMAGE, Cmd: ['/lock'], Labels: labels, HostConfig: { NetworkMode: 'none' } });
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
    // Ours from an interrupted fill is the record we want; anything else is not ours to reuse.
    const found = (await engine.getContainer(name).inspect()).Config.Labels ?? {};
    if (found[Labels.project] !== project || found[Labels.environment] !== env || found[Labels.role] !== 'filling') {
      throw new Error(`a container named ${name} exists that sandboxshift did not create; rename or remove it, then apply again`, { cause: err });
    }
  }
}

/** Removes the environment's fill records, found by our labels (so one renamed by hand goes too). */
export async function markFilled(engine: Docker, project: string, env: string): Promise<void> {
  const filters = { label: [`${Labels.project}=${project}`, `${Labels.environment}=${env}`, `${Labels.role}=filling`] };
  for (const c of await engine.listContainers({ all: true, filters })) {
    try {
      await engine.getContainer(c.Id).remove({ force: true });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }
}
