// The mount paths whose root an environment's user is given when its container is created
// (engine/user-setup.ts): its /workspace volume, unless adopted (an adopted volume is mounted
// exactly as it is), and each of its extra `volumes:`. Volumes only: a host folder as /workspace
// keeps its owner. Only the root changes hands; files inside an existing volume keep their owners.
import type { DesiredEnvironment } from './desired.js';
import { WORKSPACE_PATH } from './names.js';

export function ownedMountRoots(d: Pick<DesiredEnvironment, 'workspace' | 'spec' | 'volumes'>): string[] {
  const workspace = d.workspace.adopt || d.spec.hostWorkspace ? [] : [WORKSPACE_PATH];
  return [...workspace, ...d.volumes.map((v) => v.path)];
}
