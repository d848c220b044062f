// Redacted views of an environment for renderers: secrets by name only, sizes for people.
import type { DesiredEnvironment, EnvironmentSpec, ResourcesSpec } from '../model/desired.js';
import type { ObservedContainer } from '../model/observed.js';
import { redactGitUrl } from '../config/git-url.js';
import { formatBytes } from './format.js';
import type { EnvironmentView } from './types.js';

function view(spec: EnvironmentSpec, resources: ResourcesSpec | null, protect: boolean): EnvironmentView {
  return {
    image: spec.image,
    env: { ...spec.env },
    secrets: Object.keys(spec.secrets ?? {}).sort(),
    command: spec.command,
    user: spec.user,
    runtime: spec.runtime,
    network: spec.network,
    privileged: spec.privileged,
    resources: resources ? { cpus: resources.cpus, memory: formatBytes(resources.memoryBytes), pids: resources.pids } : { cpus: 0, memory: 'unknown', pids: 0 },
    protect,
  };
}

export function desiredView(d: DesiredEnvironment): EnvironmentView {
  return {
    ...view(d.spec, d.resources, d.protect),
    container: d.containerName,
    egress: d.egress.mode === 'allow' ? [...d.egress.allow] : [],
    ...(d.imageNote ? { imageNote: d.imageNote } : {}),
    ...(seedOf(d) ? { seed: seedOf(d) } : {}),
  };
}

function seedOf(d: DesiredEnvironment): string | undefined {
  if (d.workspace.from) return `folder ${d.workspace.from}`;
  if (d.workspace.git) return `git ${redactGitUrl(d.workspace.git.url)}${d.workspace.git.ref ? `@${d.workspace.git.ref}` : ''}`;
  return undefined;
}

export function observedView(c: ObservedContainer): EnvironmentView | null {
  if (!c.spec) return null;
  return { ...view(c.spec, c.resources, c.protect), container: c.name, state: c.state };
}
