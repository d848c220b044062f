// Attribute-level causes for a replace: compare the labelled spec with the desired one.
import type { EnvironmentSpec, ResourcesSpec } from '../model/desired.js';
import { canonicalJson } from '../model/hash.js';
import type { Reason } from './types.js';
import { formatBytes } from './format.js';

const USER_CHANGE_NOTE = 'the new user gets the root of its volumes, adopted ones excepted; files inside keep their owners';

export function specReasons(before: EnvironmentSpec, after: EnvironmentSpec): Reason[] {
  const reasons: Reason[] = [];
  const changed = (attribute: string, message: string) => reasons.push({ code: 'attribute_changed', attribute, message });
  if (before.image !== after.image) {
    const repo = (ref: string) => (/:ctx-[0-9a-f]+$/.test(ref) ? ref.replace(/:ctx-[0-9a-f]+$/, '') : null);
    const rebuilt = repo(before.image) !== null && repo(before.image) === repo(after.image);
    reasons.push({
      code: 'image_changed',
      attribute: 'image',
      message: rebuilt ? `image rebuilt: ${after.image}` : `image changed: ${before.image} → ${after.image}`,
    });
  }
  mapReasons(before.env ?? {}, after.env ?? {}, (key, what) => changed(`env.${key}`, `env.${key} ${what}`));
  mapReasons(before.secrets ?? {}, after.secrets ?? {}, (key, what) => changed(`secrets.${key}`, `secret ${key} ${what}${what === 'changed' ? ' (value hidden)' : ''}`));
  if (canonicalJson(before.command) !== canonicalJson(after.command)) changed('command', 'command changed');
  // The container is set up for the new user (engine/user-setup.ts) but a kept volume's files are not re-owned.
  if (before.user !== after.user) changed('user', `user changed: ${before.user} → ${after.user} (${USER_CHANGE_NOTE})`);
  if (before.runtime !== after.runtime) changed('runtime', `runtime changed: ${before.runtime} → ${after.runtime}`);
  if (before.network !== after.network) changed('network', `network changed: ${before.network} → ${after.network}`);
  if (before.privileged !== after.privileged) changed('privileged', `privileged changed: ${before.privileged} → ${after.privileged}`);
  if (canonicalJson(before.mounts) !== canonicalJson(after.mounts)) changed('mounts', 'mounts changed');
  mapReasons(before.volumes ?? {}, after.volumes ?? {}, (key, what) =>
    changed(`volumes.${key}`, `volume ${key} ${what}${what === 'changed' ? `: ${before.volumes?.[key]} → ${after.volumes?.[key]}` : ''} (every volume is kept)`),
  );
  if ((before.hostWorkspace ?? null) !== (after.hostWorkspace ?? null)) {
    changed('workspace', `/workspace changed: ${before.hostWorkspace ? `host folder ${before.hostWorkspace}` : 'volume'} → ${after.hostWorkspace ? `host folder ${after.hostWorkspace}` : 'volume'}`);
  }
  if (reasons.length === 0) {
    // Same attributes, different hash: a field this version does not know about.
    reasons.push({ code: 'untracked_spec', message: 'container was created with a different spec format' });
  }
  return reasons;
}

function mapReasons(before: Record<string, string>, after: Record<string, string>, add: (key: string, what: 'added' | 'removed' | 'changed') => void): void {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const key of keys) {
    if (!(key in before)) add(key, 'added');
    else if (!(key in after)) add(key, 'removed');
    else if (before[key] !== after[key]) add(key, 'changed');
  }
}

export function resourceReasons(before: ResourcesSpec, after: ResourcesSpec): Reason[] {
  const reasons: Reason[] = [];
  const add = (attribute: string, from: string, to: string) => reasons.push({ code: 'resources_changed', attribute, message: `${attribute} ${from} → ${to}` });
  if (before.cpus !== after.cpus) add('resources.cpus', String(before.cpus), String(after.cpus));
  if (before.memoryBytes !== after.memoryBytes) add('resources.memory', formatBytes(before.memoryBytes), formatBytes(after.memoryBytes));
  if (before.pids !== after.pids) add('resources.pids', String(before.pids), String(after.pids));
  return reasons;
}

export function sameResources(a: ResourcesSpec | null, b: ResourcesSpec): boolean {
  return !!a && a.cpus === b.cpus && a.memoryBytes === b.memoryBytes && a.pids === b.pids;
}
