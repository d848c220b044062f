// Whose /workspace is whose. A volume SandboxShift did not create is never written to or
// mounted without an explicit `workspace.adopt`; a renamed environment's workspace follows it
// only through `moved`; a workspace that belongs to no environment is named in the plan.
import { errorDiag, warningDiag, type Diagnostic } from '../diagnostics.js';
import type { DesiredEnvironment, DesiredState } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';

/** A volume of the workspace's name that we did not make, about to be mounted without adopt. */
export function foreignVolumeProblem(d: DesiredEnvironment, observed: ObservedState): Diagnostic | null {
  const foreign = observed.foreignVolumes.get(d.name);
  if (!foreign || d.workspace.adopt || observed.containers.has(d.name)) return null;
  const labels = Object.keys(foreign.labels).length ? `labels ${Object.keys(foreign.labels).sort().join(', ')}` : 'no labels';
  return errorDiag(`environment '${d.name}': volume ${foreign.name} already exists and was not created by sandboxshift (${labels}); it is not mounted, seeded or changed`, {
    path: `environments.${d.name}.workspace`,
    hint: `if it holds this environment's files (e.g. restored from a backup), adopt it as they are with workspace: { adopt: true }; otherwise move it away: docker volume rm ${foreign.name} (after saving what you need)`,
  });
}

/**
 * Where a renamed environment's /workspace is copied from, when `moved` says so: the old
 * environment's volume (ours, or one it adopted). A target that already has a workspace of its
 * own, not made for this move, is refused: nothing would be copied, yet the old one would look
 * moved.
 */
export function moveSource(d: DesiredEnvironment, desired: DesiredState, observed: ObservedState): { source: { environment: string; volume: string } | null; diagnostic: Diagnostic | null } {
  const from = desired.moved.get(d.name);
  if (!from) return { source: null, diagnostic: null };
  const own = observed.volumes.get(d.name) ?? null;
  const old = observed.volumes.get(from) ?? observed.foreignVolumes.get(from) ?? null;
  if (own && own.movedFrom !== from) {
    return {
      source: null,
      diagnostic: old
        ? errorDiag(`moved: '${d.name}' already has its own workspace ${own.name}, so '${from}' (${old.name}) is not copied into it`, {
            path: 'moved',
            hint: `remove the moved entry for '${from}' (both volumes are kept), or copy what you need from ${old.name} by hand`,
          })
        : null,
    };
  }
  if (!old) {
    return {
      source: null,
      diagnostic: own
        ? null
        : warningDiag(`moved: no workspace of '${from}' is on the engine, so '${d.name}' starts with a new one`, {
            path: 'moved',
            hint: `check the old name (volumes are named ss.${observed.project}.NAME.workspace), or remove the moved entry`,
          }),
    };
  }
  return { source: { environment: from, volume: old.name }, diagnostic: null };
}

/**
 * Workspace volumes no environment of the config owns: removed or renamed environments. They
 * are kept (never deleted by apply); the plan names them and says how to keep or drop them.
 */
export function orphanNotes(desired: DesiredState, observed: ObservedState, inScope: (env: string) => boolean): Diagnostic[] {
  const movedTo = new Map([...desired.moved].map(([to, from]) => [from, to]));
  const fresh = [...desired.environments.values()].filter((d) => !observed.volumes.has(d.name) && !observed.foreignVolumes.has(d.name) && !desired.moved.has(d.name)).map((d) => d.name);
  const out: Diagnostic[] = [];
  const volumes = [...observed.volumes.values(), ...[...observed.foreignVolumes.values()].filter((v) => movedTo.has(v.environment))];
  // Code-unit order (names are [a-z0-9-]): localeCompare would load ICU's collation data.
  for (const v of volumes.sort((a, b) => (a.environment < b.environment ? -1 : a.environment > b.environment ? 1 : 0))) {
    const env = v.environment;
    if (desired.environments.has(env) || !inScope(env)) continue;
    const to = movedTo.get(env);
    const removing = observed.containers.has(env) ? ' (its container is removed by this plan)' : '';
    if (to) {
      // Copied only when the target's volume was made for this move and its fill finished.
      const own = observed.volumes.get(to);
      const made = own?.movedFrom === env;
      const state = !made
        ? `is copied to '${to}' (moved) by this plan and then`
        : observed.filling.has(to)
          ? `is being copied to '${to}' (moved; an earlier apply was interrupted and the next one finishes it) and`
          : `was copied to '${to}' (moved) and`;
      out.push(
        warningDiag(`workspace ${v.name} of environment '${env}' ${state} is kept${removing}`, {
          path: 'moved',
          hint: made && !observed.filling.has(to) ? `delete it when you no longer need it: sandboxshift destroy --purge-volumes --target ${env}` : 'keep it until the copy is done',
        }),
      );
      continue;
    }
    const guess = fresh.length === 1 ? fresh[0] : undefined;
    out.push(
      warningDiag(`workspace ${v.name} belongs to no environment in the config: '${env}' was removed or renamed${removing}; the volume is kept`, {
        hint: guess
          ? `if '${env}' was renamed to '${guess}', add moved: [{ from: ${env}, to: ${guess} }] so its files follow; otherwise delete it with sandboxshift destroy --purge-volumes --target ${env}`
          : `if '${env}' was renamed, add moved: [{ from: ${env}, to: NEW_NAME }] so its files follow; otherwise delete it with sandboxshift destroy --purge-volumes --target ${env}`,
      }),
    );
  }
  return out;
}
