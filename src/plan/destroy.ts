// The destroy planner: remove every environment of the project, and with no --target the
// project's outside network too. Workspace volumes stay unless purgeVolumes, and a protected
// environment's volume is never purged. The applied-commit record stays: it says what a watcher
// last applied.
import { errorDiag, warningDiag, type Diagnostic } from '../diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import { containerName, environmentAddress, outsideNetworkName } from '../model/names.js';
import type { ObservedState } from '../model/observed.js';
import { shortId } from './format.js';
import { assemblePlan, checkTargets, deleteChange, egressRemovals, WORKSPACE_DELETED } from './plan.js';
import { bareChange, type Change, type EnvironmentChange, type EnvironmentStep, type NetworkChange, type Plan } from './types.js';
import { OUTSIDE_NETWORK_ADDRESS } from './egress.js';
import { effectiveProtect, protectRecordRemoval } from './protect.js';
import { observedVolumes } from './volumes.js';

export interface DestroyOptions {
  purgeVolumes?: boolean;
  targets?: string[];
}

export function planDestroy(desired: DesiredState, observed: ObservedState, options: DestroyOptions = {}): Plan {
  const targets = options.targets ?? [];
  const purge = options.purgeVolumes === true;
  const inScope = (env: string) => targets.length === 0 || targets.includes(env);
  const envs = new Set(
    [
      ...observed.containers.keys(),
      ...observed.volumes.keys(),
      ...(observed.dataVolumes?.keys() ?? []),
      ...observed.protectRecords.keys(),
      ...observed.proxies.keys(),
      ...(observed.egressPolicyRecords ?? []),
      ...(observed.activityRecords ?? []),
      ...observed.networks.keys(),
    ].filter(inScope),
  );
  const diagnostics: Diagnostic[] = checkTargets(desired, observed, targets);
  const changes: Change[] = [];
  for (const env of [...envs].sort()) {
    const c = observed.containers.get(env);
    const volume = observed.volumes.get(env);
    const dataVolumes = observed.dataVolumes?.get(env) ?? [];
    const dataNames = dataVolumes.map((v) => v.name).join(', ');
    // The config's value until applied, and the engine's (its protect record, else the labels).
    const protect = desired.environments.get(env)?.protect === true || effectiveProtect(env, observed) === true;
    if (purge && (volume || dataVolumes.length) && protect) {
      const what = [...(volume ? [`its /workspace volume ${volume.name}`] : []), ...(dataVolumes.length ? [`its volume${dataVolumes.length > 1 ? 's' : ''} ${dataNames}`] : [])].join(' or ');
      diagnostics.push(
        errorDiag(`environment '${env}' is protected (protect: true); --purge-volumes will not delete ${what}`, {
          path: `environments.${env}.protect`,
          hint: `leave out --purge-volumes to keep workspaces, leave '${env}' out with --target, or set protect: false and apply first if you really mean to delete it`,
        }),
      );
    }
    const purgeThis = purge && (!!volume || dataVolumes.length > 0);
    const volumes = observedVolumes(env, observed, purgeThis);
    const deleted = purgeThis ? [...(volume ? [WORKSPACE_DELETED] : []), ...(dataVolumes.length ? [`volume${dataVolumes.length > 1 ? 's' : ''} ${dataNames} will be DELETED`] : [])] : [];
    const records = protectRecordRemoval(env, observed, purgeThis);
    // Idle-stopped and touch records describe the container, so they go with it, volume kept or not.
    const activity: EnvironmentStep[] = observed.activityRecords?.has(env) ? ['remove-idle-records'] : [];
    const reasons = [
      { code: 'destroy' as const, message: purgeThis ? 'destroy; --purge-volumes deletes /workspace' : 'destroy; /workspace volume kept' },
      ...(activity.length ? [{ code: 'destroy' as const, message: 'its idle, touch and copying records removed' }] : []),
    ];
    if (c) {
      const change = deleteChange(observed.project, c, reasons, purgeThis, egressRemovals(env, observed), volumes);
      // After the volume: a crash in between leaves the record, never an unrecorded volume.
      changes.push({ ...change, security: deleted, steps: [...change.steps, ...records, ...activity] });
    } else {
      // What an environment left without a container: an egress proxy and network (a create
      // that failed half-way), protect records, and with --purge-volumes its volume.
      const egress = egressRemovals(env, observed);
      const egressReason = egress.length ? [{ code: 'destroy' as const, message: 'leftover egress proxy and network removed (no container uses them)' }] : [];
      const activityReason = activity.length ? [{ code: 'destroy' as const, message: 'leftover idle, touch and copying records removed (their container is gone)' }] : [];
      if (purgeThis) {
        changes.push(
          leftover(observed.project, env, {
            reasons: [...egressReason, { code: 'purge_workspace', message: `leftover ${volume ? '/workspace volume' : 'volumes'} deleted by --purge-volumes` }, ...activityReason],
            dataEffect: 'destroys-workspace',
            security: deleted,
            volumeName: volume?.name ?? '',
            workspace: volume ? 'delete' : 'keep',
            ...(volumes.length ? { volumes } : {}),
            steps: [...egress, 'remove-volume', ...records, ...activity],
          }),
        );
      } else if ((!volume && records.length) || egress.length || activity.length) {
        const recordReason = !volume && records.length ? [{ code: 'destroy' as const, message: 'leftover protect record removed (its workspace volume is gone)' }] : [];
        changes.push(leftover(observed.project, env, { reasons: [...egressReason, ...recordReason, ...activityReason], steps: [...egress, ...(volume ? [] : records), ...activity] }));
      }
    }
  }
  for (const c of observed.duplicates) {
    if (!inScope(c.environment)) continue;
    // One address per container (as in plan()): the executor refuses a plan with two alike.
    changes.push({
      ...deleteChange(observed.project, c, [{ code: 'duplicate', message: `duplicate container ${c.name} for one environment` }]),
      address: `${environmentAddress(c.environment)}[duplicate ${shortId(c.id)}]`,
    });
  }
  if (targets.length === 0) {
    const outside = outsideNetworkRemoval(observed, changes);
    if (outside) changes.push(outside);
    if (observed.foreignOutsideNetwork) diagnostics.push(foreignOutsideNetworkNote(observed.project, observed.foreignOutsideNetwork));
  }
  return assemblePlan(desired, observed, 'destroy', changes, diagnostics, targets);
}

/** The project's outside network goes last, after every proxy on it (a full destroy only: other environments' proxies use it). */
function outsideNetworkRemoval(observed: ObservedState, changes: readonly Change[]): NetworkChange | null {
  if (!observed.outsideNetwork) return null;
  return bareChange({
    address: OUTSIDE_NETWORK_ADDRESS,
    type: 'network',
    name: outsideNetworkName(observed.project),
    kind: 'delete',
    reasons: [{ code: 'destroy', message: "destroy; the project's outside network for egress proxies" }],
    steps: ['remove-outside-network'],
    dependsOn: changes.filter((c) => c.type === 'environment' && c.steps.includes('remove-proxy')).map((c) => c.address),
  });
}

function foreignOutsideNetworkNote(project: string, id: string): Diagnostic {
  const name = outsideNetworkName(project);
  return warningDiag(`network ${name} (${shortId(id)}) has the name of this project's outside network but was not created by sandboxshift: destroy leaves it alone`, {
    hint: `if it is yours and no longer needed, remove it yourself (docker network rm ${shortId(id)}); a later apply with egress refuses to use it`,
  });
}

/** The delete of what an environment left behind without a container. */
function leftover(project: string, env: string, fields: Pick<EnvironmentChange, 'reasons' | 'steps'> & Partial<EnvironmentChange>): EnvironmentChange {
  return bareChange({ address: environmentAddress(env), type: 'environment', name: env, kind: 'delete', containerName: containerName(project, env), ...fields });
}
