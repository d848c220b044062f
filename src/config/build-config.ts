// Builds the Config the rest of SandboxShift uses from data that passed every check:
// built-in defaults, then the file's `defaults:`, then each environment's own keys.

import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { parseUser, type RawConfig, type RawImage, type RawSettings } from './raw-config.js';
import { BUILTIN_DEFAULTS, type Config, type EgressConfig, type EnvironmentConfig, type ImageConfig, type PullSecretConfig, type SecretSource } from './types.js';
import { parseDuration, parseMemory } from './units.js';

export interface ConfigOrigin {
  /** Absolute path of the config file. */
  file: string;
  /** Absolute folder that relative paths are resolved against. */
  dir: string;
  /** Raw text of the file. */
  source: string;
}

export function buildConfig(raw: RawConfig, origin: ConfigOrigin): Config {
  const images: Record<string, ImageConfig> = {};
  for (const [name, image] of Object.entries(raw.images ?? {})) images[name] = buildImage(name, image, origin.dir);
  const environments: Record<string, EnvironmentConfig> = {};
  for (const [name, settings] of Object.entries(raw.environments ?? {})) {
    environments[name] = buildEnvironment(name, settings, raw.defaults ?? {}, origin.dir);
  }
  return { version: 1, project: raw.project, file: origin.file, dir: origin.dir, images, environments, moved: (raw.moved ?? []).map((m) => ({ from: m.from, to: m.to })), source: origin.source };
}

/**
 * Host paths become absolute here so no later stage depends on the working directory;
 * `~/` is the user's home, as in a shell.
 */
export function resolveHostPath(path: string, dir: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return resolve(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(dir, path);
}

function buildImage(name: string, image: RawImage, dir: string): ImageConfig {
  if ('ref' in image) {
    const pullSecret = image.pullSecret === undefined ? undefined : resolveCredentials(image.pullSecret, dir);
    return { name, ref: image.ref, pull: image.pull ?? 'if-not-present', ...(pullSecret ? { pullSecret } : {}) };
  }
  const { context, dockerfile, args, push, pushSecret } = image.build;
  // The Dockerfile stays relative: Docker reads it relative to the context.
  return {
    name,
    build: {
      context: resolveHostPath(context, dir),
      dockerfile: dockerfile ?? 'Dockerfile',
      args: { ...args },
      ...(push !== undefined ? { push } : {}),
      ...(pushSecret !== undefined ? { pushSecret: resolveCredentials(pushSecret, dir) } : {}),
    },
  };
}

function buildEnvironment(name: string, own: RawSettings, defaults: RawSettings, dir: string): EnvironmentConfig {
  // Whole values replace: lists, workspace, egress and idle. Maps and resources merge below.
  const pick = <K extends keyof RawSettings>(key: K): RawSettings[K] => (own[key] !== undefined ? own[key] : defaults[key]);

  const resources = { ...defaults.resources, ...own.resources };
  const memory = resources.memory === undefined ? undefined : parseMemory(resources.memory);
  const user = parseUser(pick('user'));
  const idle = pick('idle');
  const command = pick('command');
  const workspace = pick('workspace');

  const environment: EnvironmentConfig = {
    name,
    image: pick('image') ?? 'auto',
    env: stringValues({ ...defaults.env, ...own.env }),
    secrets: resolveSecrets({ ...defaults.secrets, ...own.secrets }, dir),
    resources: {
      cpus: resources.cpus ?? BUILTIN_DEFAULTS.resources.cpus,
      memoryBytes: memory ?? BUILTIN_DEFAULTS.resources.memoryBytes,
      pids: resources.pids ?? BUILTIN_DEFAULTS.resources.pids,
    },
    runtime: pick('runtime') ?? BUILTIN_DEFAULTS.runtime,
    uid: user?.uid ?? BUILTIN_DEFAULTS.uid,
    gid: user?.gid ?? BUILTIN_DEFAULTS.gid,
    workspace: {
      ...(workspace?.from !== undefined ? { from: resolveHostPath(workspace.from, dir) } : {}),
      ...(workspace?.git !== undefined ? { git: { ...workspace.git } } : {}),
      ...(workspace?.adopt === true ? { adopt: true } : {}),
      ...(workspace?.hostPath !== undefined ? { hostPath: resolveHostPath(workspace.hostPath, dir) } : {}),
    },
    volumes: { ...defaults.volumes, ...own.volumes },
    userSet: user !== undefined,
    // Protection is a decision about one environment, never inherited (the schema keeps it out of defaults).
    protect: own.protect ?? false,
    egress: buildEgress(pick('egress')),
    idle:
      idle === undefined
        ? { ...BUILTIN_DEFAULTS.idle }
        : { stopAfterSeconds: parseDuration(idle.stopAfter) ?? null, action: idle.action ?? BUILTIN_DEFAULTS.idle.action, cpuPercent: idle.cpuPercent ?? BUILTIN_DEFAULTS.idle.cpuPercent },
    privileged: pick('privileged') ?? false,
    hostNetwork: pick('hostNetwork') ?? false,
    mounts: (pick('mounts') ?? []).map((m) => ({ source: resolveHostPath(m.source, dir), target: m.target, readOnly: m.readOnly ?? false })),
    allowDangerous: [...(pick('allowDangerous') ?? [])],
    allowContractMismatch: pick('allowContractMismatch') ?? false,
  };
  if (command !== undefined) environment.command = typeof command === 'string' ? ['sh', '-c', command] : [...command];
  return environment;
}

function stringValues(env: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)]));
}

function resolveSecrets(secrets: Record<string, SecretSource>, dir: string): Record<string, SecretSource> {
  return Object.fromEntries(Object.entries(secrets).map(([name, secret]) => [name, resolveSource(secret, dir)]));
}

function resolveCredentials(secret: PullSecretConfig, dir: string): PullSecretConfig {
  return 'dockerConfig' in secret ? { dockerConfig: resolveSource(secret.dockerConfig, dir) } : { username: resolveSource(secret.username, dir), password: resolveSource(secret.password, dir) };
}

function resolveSource(secret: SecretSource, dir: string): SecretSource {
  return 'fromFile' in secret ? { fromFile: resolveHostPath(secret.fromFile, dir) } : { fromEnv: secret.fromEnv };
}

function buildEgress(egress: RawSettings['egress']): EgressConfig {
  if (egress === undefined) return { ...BUILTIN_DEFAULTS.egress };
  return egress === 'none' ? { mode: 'none' } : { mode: 'allow', allow: [...egress.allow] };
}
