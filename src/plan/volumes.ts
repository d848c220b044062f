// Extra named volumes (`volumes:`): the same promises as /workspace. Made with the container,
// kept across replace, stop, idle and destroy, deleted only by destroy --purge-volumes (never
// when protected); a volume of that name we did not make is refused; one the config dropped is
// named in the plan and kept.
import { errorDiag, warningDiag, type Diagnostic } from '../diagnostics.js';
import type { DesiredEnvironment, DesiredState } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import type { PlannedVolume } from './types.js';

/** The desired environment's volumes, each new or kept. */
export function plannedVolumes(d: DesiredEnvironment, observed: ObservedState): PlannedVolume[] {
  const seen = new Set((observed.dataVolumes?.get(d.name) ?? []).map((v) => v.name));
  return d.volumes.map((v) => ({ name: v.name, volumeName: v.volumeName, path: v.path, action: seen.has(v.volumeName) ? 'keep' : 'create' }));
}

/** The volumes an environment has on the engine, kept or (purge) deleted. */
export function observedVolumes(env: string, observed: ObservedState, purge: boolean): PlannedVolume[] {
  const paths = observed.containers.get(env)?.spec?.volumes ?? {};
  return (observed.dataVolumes?.get(env) ?? []).map((v) => ({ name: v.volume, volumeName: v.name, path: paths[v.volume] ?? null, action: purge ? 'delete' : 'keep' }));
}

/**
 * Volumes of a desired volume's name that we did not make, about to be mounted. Not once the
 * container mounts it (its labelled spec has the volume): refused at the plan that would mount it.
 */
export function foreignDataVolumeProblems(d: DesiredEnvironment, observed: ObservedState): Diagnostic[] {
  const mounted = observed.containers.get(d.name)?.spec?.volumes ?? {};
  return d.volumes.flatMap((v) => {
    const foreign = observed.foreignDataVolumes?.get(v.volumeName);
    if (!foreign || v.name in mounted) return [];
    const labels = Object.keys(foreign.labels).length ? `labels ${Object.keys(foreign.labels).sort().join(', ')}` : 'no labels';
    return [
      errorDiag(`environment '${d.name}': volume ${foreign.name} already exists and was not created by sandboxshift (${labels}); it is not mounted at ${v.path} or changed`, {
        path: `environments.${d.name}.volumes.${v.name}`,
        hint: `move it away (docker volume rm ${foreign.name}, after saving what you need), or rename the volume under volumes:`,
      }),
    ];
  });
}

/**
 * Volumes no environment of the config declares: of a removed environment, or dropped from an
 * environment's `volumes:`. Kept, and named with how to delete them.
 */
export function dataVolumeOrphanNotes(desired: DesiredState, observed: ObservedState, inScope: (env: string) => boolean): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [env, volumes] of [...(observed.dataVolumes ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!inScope(env)) continue;
    const d = desired.environments.get(env);
    for (const v of volumes) {
      if (d?.volumes.some((w) => w.volumeName === v.name)) continue;
      out.push(
        d
          ? warningDiag(`volume ${v.name} of environment '${env}' is no longer under its volumes ('${v.volume}' removed); the volume is kept, no longer mounted`, {
              path: `environments.${env}.volumes`,
              hint: `add it back to keep using its files; otherwise delete it with docker volume rm ${v.name}`,
            })
          : warningDiag(`volume ${v.name} belongs to no environment in the config: '${env}' was removed or renamed; the volume is kept`, {
              hint: `delete it with sandboxshift destroy --purge-volumes --target ${env}, or copy what you need from it first`,
            }),
      );
    }
  }
  return out;
}
