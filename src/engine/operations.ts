// One function per engine operation. No decisions: the plan chose them.
import type { DesiredEnvironment, ResourcesSpec } from '../model/desired.js';
import type { EgressPlan } from '../model/egress.js';
import { statusCode, type Docker } from './client.js';
import { containerCreateOptions, dataVolumeLabels, hostPidsLimit, workspaceLabels } from './container-spec.js';
import { engineFlavour } from './flavour.js';
import { unlessMissing } from './records.js';
import { secretsArchive } from './secrets-archive.js';

export async function createContainer(engine: Docker, project: string, d: DesiredEnvironment, egress: EgressPlan | null = null, movedFrom: string | null = null): Promise<string> {
  // Podman ignores the labels of a volume a mount creates: make each volume first, labelled.
  if ((await engineFlavour(engine)) === 'podman') {
    const volumes = [
      ...(d.spec.hostWorkspace ? [] : [{ name: d.volumeName, labels: workspaceLabels(project, d, movedFrom) }]),
      ...d.volumes.map((v) => ({ name: v.volumeName, labels: dataVolumeLabels(project, d, v.name) })),
    ];
    for (const v of volumes) {
      if (!(await unlessMissing(engine.getVolume(v.name).inspect()))) await engine.createVolume({ Name: v.name, Driver: 'local', Labels: v.labels });
    }
  }
  const container = await engine.createContainer(containerCreateOptions(project, d, egress, movedFrom));
  return container.id;
}

export async function copySecrets(engine: Docker, containerId: string, secrets: ReadonlyArray<{ name: string; value: Buffer }>, uid: number, gid: number): Promise<void> {
  const archive = await secretsArchive(secrets, uid, gid);
  await engine.getContainer(containerId).putArchive(archive, { path: '/' });
}

export async function startContainer(engine: Docker, id: string): Promise<void> {
  try {
    await engine.getContainer(id).start();
  } catch (err) {
    if (statusCode(err) !== 304) throw err; // already running
  }
}

export async function renameContainer(engine: Docker, id: string, name: string): Promise<void> {
  await engine.getContainer(id).rename({ name });
}

export async function unpauseContainer(engine: Docker, id: string): Promise<void> {
  await engine.getContainer(id).unpause();
}

export async function updateResources(engine: Docker, id: string, r: ResourcesSpec, runtime: string): Promise<void> {
  await engine.getContainer(id).update({
    NanoCpus: Math.round(r.cpus * 1e9),
    Memory: r.memoryBytes,
    MemorySwap: r.memoryBytes,
    PidsLimit: hostPidsLimit(r.pids, runtime),
  });
}

/** Stops gracefully (SIGTERM, then SIGKILL after the grace period) and removes; volumes stay. */
export async function removeContainer(engine: Docker, id: string, graceSeconds = 10): Promise<void> {
  const c = engine.getContainer(id);
  try {
    await c.stop({ t: graceSeconds });
  } catch (err) {
    const code = statusCode(err);
    if (code === 404) return;
    if (code !== 304) throw err;
  }
  try {
    await c.remove({ force: true, v: false });
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
}

export async function removeVolume(engine: Docker, name: string): Promise<void> {
  try {
    await engine.getVolume(name).remove();
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
}
