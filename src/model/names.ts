// Deterministic engine object names. Project and environment names cannot contain dots
// (schema), so the dot keeps `a` + `b-c` and `a-b` + `c` apart.

export function containerName(project: string, env: string): string {
  return `ss.${project}.${env}`;
}

export function volumeName(project: string, env: string): string {
  return `ss.${project}.${env}.workspace`;
}

/**
 * An extra volume of an environment (`volumes:`). Volume names are [a-z0-9-] like environment
 * names, so `ss.P.E.vol.N` has five dot-separated parts and cannot be any environment's
 * workspace (`ss.P.E.workspace`, four) or another environment's volume.
 */
export function dataVolumeName(project: string, env: string, volume: string): string {
  return `ss.${project}.${env}.vol.${volume}`;
}

export function lockContainerName(project: string): string {
  return `ss.${project}.lock`;
}

export function environmentAddress(env: string): string {
  return `environment.${env}`;
}

export const WORKSPACE_PATH = '/workspace';
export const SECRETS_PATH = '/run/secrets';

/** The environment's own internal network: no route out, nothing else on it but its proxy. */
export function networkName(project: string, env: string): string {
  return `ss.${project}.${env}.net`;
}

/** The egress proxy container of an environment. */
export function proxyName(project: string, env: string): string {
  return `ss.${project}.${env}.egress`;
}

/** The project's outside network, shared by its proxies only. */
export function outsideNetworkName(project: string): string {
  return `ss.${project}.egress-out`;
}

export const PROXY_PORT = 3128;
export const PROXY_POLICY_PATH = '/etc/sandboxshift/egress.json';

/**
 * An environment's protect record (never started). The value is in the name, so a change
 * creates the new record before it removes the old one, and a crash in between leaves both:
 * read as protected, the safe side.
 */
/** The record of a workspace fill (seed or moved copy) in progress: present only until it finishes. */
export function fillingRecordName(project: string, env: string): string {
  return `ss.${project}.${env}.filling`;
}

/** The record of the git commit `watch --git` last applied (one per commit, so a new one can be created before the old is removed). */
/** The record that a change keeps failing under watch (a new count is a new record). */
export function failingRecordName(project: string, address: string, count: number): string {
  return `ss.${project}.failing-${address.replace(/[^a-zA-Z0-9_.-]/g, '_')}-${count}`;
}

export function appliedRecordName(project: string, commit: string): string {
  return `ss.${project}.applied-${commit}`;
}

export function protectRecordName(project: string, env: string, protect: boolean): string {
  return `ss.${project}.${env}.protect-${protect ? 'on' : 'off'}`;
}

/**
 * An egress proxy's policy record (never started): the allow list it enforces since a reload
 * in place (`state` enforced, named by the list's short hash) or a reload in progress (pending).
 */
export function egressPolicyRecordName(project: string, env: string, state: 'pending' | 'enforced', allowHash: string): string {
  return `ss.${project}.${env}.egress-${state}-${allowHash.slice(0, 12)}`;
}

/** Where the proxy writes its live figures (see images/egress-proxy and the README). */
export const PROXY_STATS_PATH = '/var/lib/sandboxshift-egress/stats.json';
/** The record that an idle policy stopped or paused the environment (see engine/idle-record.ts). */
export function idleRecordName(project: string, env: string): string {
  return `ss.${project}.${env}.idle`;
}

/** While `sandboxshift cp` holds the environment paused (engine/copy-freeze.ts): one copy at a time. */
export function copyingRecordName(project: string, env: string): string {
  return `ss.${project}.${env}.copying`;
}

/** The record of the last `sandboxshift touch`; the time is in the name, so a new touch is a new record. */
export function touchRecordName(project: string, env: string, at: number): string {
  return `ss.${project}.${env}.touch-${at}`;
}

/** The file an agent touches inside to say it is working (read by its mtime, from outside). */
export const HEARTBEAT_PATH = '/workspace/.sandboxshift-heartbeat';
