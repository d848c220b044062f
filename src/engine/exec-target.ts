// Where an exec goes: the environment's container (by its labels, so a renamed one still
// counts) and, when it is not running, whether an idle policy stopped or paused it. One list
// call answers both: idle records carry the same project and environment labels.
import type { EngineReader } from './reader.js';
import { withEngine } from './client.js';
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
