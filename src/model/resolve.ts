// Config → desired state. Reads secret values (from the environment or files) but never
// lets them into the desired state: only their fingerprints go there.
import { statSync } from 'node:fs';
import { isAbsolute, relative, resolve as resolvePath } from 'node:path';
import { realHostPath } from '../config/dangerous-checks.js';
import type { Config, EnvironmentConfig, SecretSource } from '../config/types.js';
import { resolveHostPath } from '../config/build-config.js';
import { localGitPath } from '../config/git-url.js';
import { errorDiag, type Diagnostic } from '../diagnostics.js';
import type { DesiredEnvironment, DesiredState, EnvironmentSpec, SecretValues } from './desired.js';
import { hashOf, secretFingerprint, sha256 } from './hash.js';
import { containerName, dataVolumeName, environmentAddress, volumeName } from './names.js';
import { chooseAutoImage } from './auto-image.js';
import { withHostWorkspaceOwner } from './host-workspace.js';
import { readSecretFile, readSecretFromEnv, type SecretProblem } from './secret-source.js';
import { BUILTIN_IMAGES, EGRESS_IMAGE, PI_STAGE_HINT, buildContextProblem, desiredImage, type DesiredImage } from './images.js';
import { BuildContextError } from './build-context.js';

export interface ResolveResult {
  desired: DesiredState;
  secrets: SecretValues;
  diagnostics: Diagnostic[];
}

export interface ResolveOptions {
  /** Where `fromEnv` secrets are read from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * A secret that cannot be read is no error: its fingerprint is UNKNOWN_SECRET and it gets no
   * value. For `diff`, which compares configs and never needs values (none are invented).
   */
  secretsOptional?: boolean;
  /**
   * false: build contexts are not read (nor checked), and built images have no ctx- tag; for
   * commands that build nothing and need no tag (destroy, status, ...), so a context a plan
   * refuses never stops them. Default true.
   */
  readBuildContexts?: boolean;
}

/** The fingerprint of a secret whose value was not available (only with `secretsOptional`). */
export const UNKNOWN_SECRET = 'unknown';

export function resolveDesired(config: Config, options: ResolveOptions = {}): ResolveResult {
  const diagnostics: Diagnostic[] = [];
  const environments = new Map<string, DesiredEnvironment>();
  const images = new Map<string, DesiredImage>();
  const secrets: SecretValues = new Map();
  const defined = new Set(Object.keys(config.images));
  for (const configured of Object.values(config.environments)) {
    const env = withHostWorkspaceOwner(config, configured, diagnostics);
    if (!env) continue;
    const auto = env.image === 'auto' ? chooseAutoImage(env, defined) : null;
    const imageName = auto?.image ?? env.image;
    const image = imageFor(config, imageName, images, diagnostics, options);
    if (!image) continue;
    const { values, unknown } = readSecrets(config, env, options, diagnostics);
    secrets.set(env.name, values);
    environments.set(env.name, desiredEnvironment(config, env, values, unknown, image, auto?.because ?? null));
  }
  if ([...environments.values()].some((d) => d.egress.mode === 'allow')) imageFor(config, EGRESS_IMAGE, images, diagnostics, options);
  // Declared images nobody uses yet are still known, for `sandboxshift images build`.
  for (const name of Object.keys(config.images).sort()) imageFor(config, name, images, diagnostics, options);
  if (!options.secretsOptional) diagnostics.push(...seedFolderProblems(config));
  const moved = new Map((config.moved ?? []).map((m) => [m.to, m.from]));
  return { desired: { project: config.project, environments, images, sourceHash: sha256(config.source), moved }, secrets, diagnostics };
}

/** The `fromFile` secrets of any environment that lie inside `folder` (real paths compared). */
function secretFilesUnder(config: Config, folder: string): string[] {
  const root = realHostPath(folder);
  const found = new Set<string>();
  for (const env of Object.values(config.environments)) {
    for (const source of Object.values(env.secrets)) {
      if (!('fromFile' in source)) continue;
      const real = realHostPath(resolvePath(config.dir, source.fromFile));
      const rel = relative(root, real);
      if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) found.add(source.fromFile);
    }
  }
  return [...found].sort();
}

/** A seed folder that is missing or not a folder is found now, not halfway through an apply. */
function seedFolderProblems(config: Config): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const env of Object.values(config.environments)) {
    const from = env.workspace.from;
    if (from === undefined) continue;
    let problem: string | null = null;
    try {
      if (!statSync(from).isDirectory()) problem = 'is not a folder';
    } catch (err) {
      problem = `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    // Every secret file inside the seed would be copied into the sandbox in the clear.
    const inside = problem ? [] : secretFilesUnder(config, from);
    if (inside.length) {
      out.push(
        errorDiag(`environment '${env.name}': workspace.from ${from} contains secret files (${inside.join(', ')}), which would be copied into /workspace in the clear`, {
          file: config.file,
          path: `environments.${env.name}.workspace.from`,
          hint: 'seed from a folder that holds no secrets (e.g. ./seed), or keep the secret files outside it',
        }),
      );
    }
    if (problem) {
      out.push(
        errorDiag(`environment '${env.name}': workspace.from ${from} ${problem}`, {
          file: config.file,
          path: `environments.${env.name}.workspace.from`,
          hint: 'point workspace.from at a folder next to the config file (it is copied into a new /workspace once)',
        }),
      );
    }
  }
  return out;
}

/** The desired image for a name (config first, then the shipped runtimes), digested once. */
function imageFor(config: Config, name: string, images: Map<string, DesiredImage>, diagnostics: Diagnostic[], options: ResolveOptions): DesiredImage | null {
  const known = images.get(name);
  if (known) return known;
  // Refused once already (by an environment, then again as a declared image): said once.
  const at = `images.${name}.build`;
  if (diagnostics.some((d) => d.path === at && d.severity === 'error')) return null;
  const own = config.images[name];
  const image = own ?? BUILTIN_IMAGES[name];
  if (!image) throw new Error(`internal: image '${name}' passed validation but is not defined`);
  const readContext = options.readBuildContexts !== false;
  const problem = readContext ? buildContextProblem(image) : null;
  if (problem) {
    const hint = !own && name === 'pi' ? PI_STAGE_HINT : 'fix images.NAME.build.context (relative to the config file) or dockerfile';
    diagnostics.push(errorDiag(`image '${name}': ${problem}`, { file: config.file, path: at, hint }));
    return null;
  }
  let desired: DesiredImage;
  try {
    desired = desiredImage(config, image, !own, { readContext });
  } catch (err) {
    if (!(err instanceof BuildContextError)) throw err;
    diagnostics.push(errorDiag(`image '${name}': ${err.message}`, { file: config.file, path: at, hint: err.hint }));
    return null;
  }
  images.set(name, desired);
  return desired;
}

function desiredEnvironment(
  config: Config,
  env: EnvironmentConfig,
  secretValues: Array<{ name: string; value: Buffer }>,
  unknownSecrets: string[],
  image: DesiredImage,
  imageNote: string | null,
): DesiredEnvironment {
  const secrets: Record<string, string> = {};
  for (const { name, value } of secretValues) secrets[name] = secretFingerprint(config.project, env.name, name, value);
  for (const name of unknownSecrets) secrets[name] = UNKNOWN_SECRET;
  const spec: EnvironmentSpec = {
    image: image.ref,
    env: { ...env.env },
    secrets,
    command: env.command ?? null,
    user: `${env.uid}:${env.gid}`,
    runtime: env.runtime,
    network: env.hostNetwork ? 'host' : env.egress.mode === 'allow' ? 'egress' : 'none',
    privileged: env.privileged,
    mounts: env.mounts.map((m) => ({ ...m })),
    ...(Object.keys(env.volumes).length ? { volumes: { ...env.volumes } } : {}),
    ...(env.workspace.hostPath ? { hostWorkspace: env.workspace.hostPath } : {}),
  };
  return {
    address: environmentAddress(env.name),
    name: env.name,
    containerName: containerName(config.project, env.name),
    volumeName: volumeName(config.project, env.name),
    imageName: image.name,
    imageNote,
    imageAddress: image.address,
    spec,
    resources: { ...env.resources },
    configHash: hashOf(spec),
    protect: env.protect,
    egress: env.egress,
    workspace:
      env.workspace.git && localGitPath(env.workspace.git.url) !== null
        ? { ...env.workspace, git: { ...env.workspace.git, url: resolveHostPath(localGitPath(env.workspace.git.url)!, config.dir) } }
        : { ...env.workspace },
    volumes: Object.entries(env.volumes)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, path]) => ({ name, path, volumeName: dataVolumeName(config.project, env.name, name) })),
    uid: env.uid,
    gid: env.gid,
    allowContractMismatch: env.allowContractMismatch,
  };
}

function readSecrets(config: Config, env: EnvironmentConfig, options: ResolveOptions, diagnostics: Diagnostic[]): { values: Array<{ name: string; value: Buffer }>; unknown: string[] } {
  const out: Array<{ name: string; value: Buffer }> = [];
  const unknown: string[] = [];
  for (const [name, source] of Object.entries(env.secrets).sort(([a], [b]) => a.localeCompare(b))) {
    const value = readSecret(config, source, options.env ?? process.env);
    if (!Buffer.isBuffer(value) && value.kind === 'unreadable' && options.secretsOptional) {
      unknown.push(name);
    } else if (!Buffer.isBuffer(value)) {
      diagnostics.push(
        errorDiag(`secret '${name}' of environment '${env.name}': ${value.message}`, {
          file: config.file,
          path: `environments.${env.name}.secrets.${name}`,
          hint: value.hint,
        }),
      );
    } else {
      out.push({ name, value });
    }
  }
  return { values: out, unknown };
}

/** The value, or why it could not be used (never containing the value). */
function readSecret(config: Config, source: SecretSource, processEnv: NodeJS.ProcessEnv): Buffer | SecretProblem {
  if ('fromEnv' in source) return readSecretFromEnv(source.fromEnv, processEnv);
  return readSecretFile(resolvePath(config.dir, source.fromFile), source.fromFile);
}
