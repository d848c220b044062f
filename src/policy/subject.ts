// What the policy checks, read from the project's config and its resolved desired state.
import type { Config } from '../config/types.js';
import type { DesiredState } from '../model/desired.js';
import type { PolicySubject } from './check.js';

export function policySubject(config: Config, desired: DesiredState): PolicySubject {
  const environments = [...desired.environments.values()].map((d) => {
    const c = config.environments[d.name];
    const image = desired.images.get(d.imageName);
    return {
      name: d.name,
      imageName: d.imageName,
      autoImage: c?.image === 'auto',
      imageRef: d.spec.image,
      imageBuilt: image ? image.build !== null : false,
      runtime: d.spec.runtime,
      cpus: d.resources.cpus,
      memoryBytes: d.resources.memoryBytes,
      pids: d.resources.pids,
      egressAllow: d.egress.mode === 'allow' ? d.egress.allow : null,
      allowDangerous: c?.allowDangerous ?? [],
      stopAfterSeconds: c?.idle.stopAfterSeconds ?? null,
    };
  });
  return { project: desired.project, environments };
}
