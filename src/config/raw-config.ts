// The file's data as written (after YAML parsing), before defaults are merged and units parsed.
// The shapes mirror schemas/sandboxshift.schema.json and are only trusted once it has passed.

import type { DangerousSetting, PullPolicy, SecretSource } from './types.js';
import { isPlainObject } from './describe.js';
import type { KeyPath } from './key-path.js';

export interface RawSettings {
  image?: string;
  env?: Record<string, string | number | boolean>;
  secrets?: Record<string, SecretSource>;
  resources?: { cpus?: number; memory?: string | number; pids?: number };
  runtime?: 'runc' | 'runsc';
  user?: string | number;
  command?: string | string[];
  workspace?: { from?: string; git?: { url: string; ref?: string }; adopt?: boolean; hostPath?: string };
  volumes?: Record<string, string>;
  protect?: boolean;
  egress?: 'none' | { allow: string[] };
  idle?: { stopAfter: string; action?: 'stop' | 'pause'; cpuPercent?: number };
  privileged?: boolean;
  hostNetwork?: boolean;
  mounts?: { source: string; target: string; readOnly?: boolean }[];
  allowDangerous?: DangerousSetting[];
  allowContractMismatch?: boolean;
}

export type RawPullSecret = { dockerConfig: SecretSource } | { username: SecretSource; password: SecretSource };

export type RawImage =
  { ref: string; pull?: PullPolicy; pullSecret?: RawPullSecret } | { build: { context: string; dockerfile?: string; args?: Record<string, string>; push?: string; pushSecret?: RawPullSecret } };

export interface RawConfig {
  version: 1;
  project: string;
  defaults?: RawSettings;
  images?: Record<string, RawImage>;
  environments?: Record<string, RawSettings>;
  moved?: { from: string; to: string }[];
}

/** A setting's value and where it was written: in the environment itself or in `defaults`. */
export interface SettingSource {
  value: unknown;
  path: KeyPath;
}

/**
 * Where environment `name` gets `key` from. Checks use this on unvalidated data, so it only
 * assumes maps where it finds them.
 */
export function settingSource(data: unknown, name: string, key: string): SettingSource | undefined {
  const root = isPlainObject(data) ? data : {};
  const environments = isPlainObject(root.environments) ? root.environments : {};
  const own = environments[name];
  if (isPlainObject(own) && key in own) return { value: own[key], path: ['environments', name, key] };
  const defaults = root.defaults;
  if (isPlainObject(defaults) && key in defaults) return { value: defaults[key], path: ['defaults', key] };
  return undefined;
}

/**
 * The largest id Linux gives a user or group: 4294967295 is (uid_t)-1, "no id" to setgroups and
 * setuid (the runtime fails to start the container), and anything above does not fit a uid_t.
 */
export const MAX_ID = 4294967294;

/** `1000` → 1000/1000, `'1000:100'` → 1000/100; undefined for anything else (names and ids above MAX_ID included). */
export function parseUser(user: unknown): { uid: number; gid: number } | undefined {
  const inRange = (ids: { uid: number; gid: number }) => (ids.uid <= MAX_ID && ids.gid <= MAX_ID ? ids : undefined);
  if (typeof user === 'number') return Number.isInteger(user) && user >= 0 ? inRange({ uid: user, gid: user }) : undefined;
  if (typeof user !== 'string') return undefined;
  const match = /^([0-9]+)(?::([0-9]+))?$/.exec(user.trim());
  if (!match) return undefined;
  const uid = Number(match[1]);
  // Without a GID the user's own number is used: Docker would pick group 0 (root) for an id it cannot look up.
  return inRange({ uid, gid: match[2] === undefined ? uid : Number(match[2]) });
}
