// Where an exec goes: the environment's container (by its labels, so a renamed one still
// counts) and, when it is not running, whether an idle policy stopped or paused it. One list
// call answers both: idle records carry the same project and environment labels. The short path
// (app/exec-fast.ts) asks only for a running container of ours under the environment's name.
import { containerName } from '../model/names.js';
import type { EngineReader } from './reader.js';
import { statusCode, withEngine } from './client.js';
import { Labels } from './labels.js';

export interface ExecTarget {
  id: string;
  /** The engine's state: running, paused, exited, created, restarting... */
  state: string;
  /** An idle record says the idle policy stopped or paused it. */
  idleAction: 'stop' | 'pause' | null;
}

export async function findExecTarget(reader: EngineReader, project: string, env: string): Promise<ExecTarget | null> {
  const found = await withEngine(() => reader.listContainers({ label: [`${Labels.project}=${project}`, `${Labels.environment}=${env}`] }));
  const container = found.find((c) => c.Labels[Labels.role] === 'environment');
  if (!container) return null;
  const record = found.find((c) => c.Labels[Labels.role] === 'idle-stopped');
  const idleAction = record ? (record.Labels[Labels.idleAction] === 'pause' ? 'pause' : 'stop') : null;
  return { id: container.Id, state: container.State, idleAction };
}

/**
 * The short path's lookup, one inspect by the environment's own name (cheaper for the engine than
 * a filtered list): the container's ID when it is ours by its labels and running; null for
 * anything else (no such name, someone else's container under it, not running), and the full
 * path's list by labels then decides, so a container we did not make is never exec'd into.
 */
export async function runningNamedContainer(reader: EngineReader, project: string, env: string): Promise<string | null> {
  let info;
  try {
    info = await reader.inspectContainer(containerName(project, env));
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
  const labels = info.Config?.Labels ?? {};
  const ours = labels[Labels.role] === 'environment' && labels[Labels.project] === project && labels[Labels.environment] === env;
  return ours && info.State?.Status === 'running' ? info.Id : null;
}
