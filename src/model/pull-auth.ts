// Registry credentials for pulling, read from the sources a pullSecret names: a Docker
// config.json (its `auths` entry for the image's registry) or a username and password. The
// values go to the engine only in the X-Registry-Auth header; no message here contains them.
import type { PullSecretConfig, SecretSource } from '../config/types.js';
import { readSecretFile, readSecretFromEnv, type SecretProblem } from './secret-source.js';

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

export function readPullAuth(secret: PullSecretConfig, registry: string, processEnv: NodeJS.ProcessEnv): RegistryAuth | SecretProblem {
  if ('username' in secret) {
    const username = readSource(secret.username, processEnv);
    if (!Buffer.isBuffer(username)) return username;
    const password = readSource(secret.password, processEnv);
    if (!Buffer.isBuffer(password)) return password;
    return { username: trimLine(username), password: trimLine(password), serveraddress: registry };
  }
  const file = readSource(secret.dockerConfig, processEnv);
  if (!Buffer.isBuffer(file)) return file;
  return fromDockerConfig(file, registry, 'fromFile' in secret.dockerConfig ? secret.dockerConfig.fromFile : `$${secret.dockerConfig.fromEnv}`);
}

function readSource(source: SecretSource, processEnv: NodeJS.ProcessEnv): Buffer | SecretProblem {
  return 'fromEnv' in source ? readSecretFromEnv(source.fromEnv, processEnv) : readSecretFile(source.fromFile, source.fromFile);
}

/** A file written with `echo` ends in a newline that is not part of the secret. */
function trimLine(value: Buffer): string {
  return value.toString('utf8').replace(/\r?\n$/, '');
}

function fromDockerConfig(text: Buffer, registry: string, shown: string): RegistryAuth | SecretProblem {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.toString('utf8'));
  } catch {
    return { kind: 'refused', message: `${shown} is not JSON (a Docker config.json was expected)`, hint: 'point dockerConfig at the config.json `docker login` writes, or use username and password' };
  }
  const auths = (parsed as { auths?: Record<string, { auth?: string; username?: string; password?: string }> } | null)?.auths ?? {};
  const keys = registry === 'docker.io' ? ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io'] : [registry, `https://${registry}`, `http://${registry}`];
  const entry = keys.map((k) => auths[k]).find((e) => e !== undefined);
  if (!entry) {
    const helper = (parsed as { credsStore?: string; credHelpers?: Record<string, string> }).credsStore ?? (parsed as { credHelpers?: Record<string, string> }).credHelpers?.[registry];
    return {
      kind: 'refused',
      message: `${shown} has no credentials for registry ${registry}${helper ? ` (it names the credential helper '${helper}', which SandboxShift does not run)` : ''}`,
      hint: `run docker login ${registry} with DOCKER_CONFIG pointing at a folder whose config.json keeps the credentials in the file, or use username and password`,
    };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password, serveraddress: registry };
  const decoded = Buffer.from(entry.auth ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return { kind: 'refused', message: `${shown}: the entry for ${registry} has no readable auth (base64 of user:password)`, hint: `log in again: docker login ${registry}` };
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: registry };
}
