// Deterministic engine object names. Project and environment names cannot contain dots
// (schema), so the dot keeps `a` + `b-c` and `a-b` + `c` apart.

export function containerName(project: string, env: string): string {
  return `ss.${project}.${env}`;
}

export function volumeName(project: string, env: string): string {
  return `ss.${project}.${env}.workspace`;
}

export function lockContainerName(project: string): string {
  return `ss.${project}.lock`;
}

export function environmentAddress(env: string): string {
  return `environment.${env}`;
}

export const WORKSPACE_PATH = '/workspace';
export const SECRETS_PATH = '/run/secrets';
