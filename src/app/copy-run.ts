// A copy whose config is already in hand: the part of `sandboxshift cp` the full command
// (copy.ts, which loads and checks the config) and the short path (copy-fast.ts, from the
// checked-config cache) share. Files and folders go into or out of an environment's reachable
// folders (/workspace and its volumes), through the engine's archive API, by docker cp's rules.
import { lstat, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { posix } from 'node:path';
import { didYouMean } from '../config/suggest.js';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { copyIntoContainer, copyOutOfContainer, CopyRefused, outsideMessage, resolveContainerPath, scanHostSource, type CopyTotals } from '../engine/archive-copy.js';
import { freezeForCopy } from '../engine/copy-freeze.js';
import { flavourOf } from '../engine/flavour.js';
import { pauseForTest } from '../engine/test-pause.js';
import { archiveClient, type ArchiveClient } from '../engine/archive-client.js';
import type { Engine } from '../engine/client.js';
import { EngineHttpError } from '../engine/reader.js';
import { Labels } from '../engine/labels.js';
import { containerPath, hostArgNotUtf8, landing, parseCpArg, reachableRoots, underRoots, type Existing } from '../model/copy-paths.js';
import { withHostWorkspaceOwner } from '../model/host-workspace.js';
import { containerName } from '../model/names.js';
import type { Config, EnvironmentConfig } from '../config/types.js';

export const COPY_FORMAT_VERSION = '1.0';

export interface CopyReport {
  format_version: typeof COPY_FORMAT_VERSION;
  direction: 'in' | 'out';
  source: string;
  destination: string;
  /** Files and symlinks copied (folders not counted). */
  files: number;
  /** Bytes of file content copied. */
  bytes: number;
}

export interface CopyRequest {
  configPath: string;
  source: string;
  destination: string;
  /** Told when the copy waits for another cp of the environment (default: stderr). */
  notice?: (text: string) => void;
}

/** The environment side of a copy (ENV:PATH) and the direction, after the checks every copy makes before it reads the config. */
export function copyEnvironmentArg(request: CopyRequest): { env: string; path: string; direction: CopyReport['direction'] } {
  const src = parseCpArg(request.source);
  const dst = parseCpArg(request.destination);
  if ((src.kind === 'env') === (dst.kind === 'env')) {
    throw new DiagnosticsError([
      errorDiag(src.kind === 'env' ? 'cp copies between the host and one environment, not between two environments' : 'cp needs one side to be ENV:PATH (an environment and a path inside it)', {
        hint: 'sandboxshift cp ./file ENV:/workspace/  or  sandboxshift cp ENV:/workspace/file ./',
      }),
    ]);
  }
  if (request.destination === '-' || request.source === '-') {
    throw new DiagnosticsError([errorDiag("cp does not read or write tar streams on '-'", { hint: 'name a file or folder on the host' })]);
  }
  const notUtf8 = hostArgNotUtf8(src.kind === 'host' ? request.source : request.destination);
  if (notUtf8) throw new DiagnosticsError([errorDiag(notUtf8.error, { hint: notUtf8.hint })]);
  const side = src.kind === 'env' ? src : (dst as Extract<typeof dst, { kind: 'env' }>);
  return { env: side.env, path: side.path, direction: src.kind === 'env' ? 'out' : 'in' };
}

/**
 * The copy itself, with `config` loaded and free of errors. `inspected`: the container's inspect
 * when the caller already asked for it under the config's project and the environment's name.
 */
export async function copyWithConfig(engine: Engine, request: CopyRequest, config: Config, inspected?: Promise<ContainerInfo | null>): Promise<CopyReport> {
  const envArg = copyEnvironmentArg(request);
  const environment = Object.hasOwn(config.environments, envArg.env) ? config.environments[envArg.env] : undefined;
  if (!environment) {
    const names = Object.keys(config.environments).sort();
    throw new DiagnosticsError([
      errorDiag(`environment '${envArg.env}' is not in ${config.file}${didYouMean(envArg.env, names)}`, { hint: `environments in the config: ${names.join(', ') || '(none)'}` }),
    ]);
  }
  const name = containerName(config.project, environment.name);
  // /workspace (a volume or the host folder) and the environment's extra volumes.
  const roots = reachableRoots(environment.volumes);
  // Whether the engine is Podman, asked alongside the inspect (see below).
  const podman = engine.reader.version().then((v) => flavourOf(v) === 'podman');
  podman.catch(() => undefined);
  const info = await (inspected ?? inspectContainer(engine, name));
  const owner = containerOwner(info, config, environment);
  // By its ID from here on: the name could be given to another container meanwhile.
  const container = archiveClient(engine, info!.Id);
  const direction = envArg.direction;
  let totals: CopyTotals;
  try {
    // Paused while the path is checked and copied: nothing in the sandbox can swap a folder on
    // it for a symlink in between (copy-freeze.ts). A paused one is recorded too, so it stays
    // paused while this cp copies, and another cp's pause is waited for. A stopped one runs
    // nothing. Not on Podman (4.3): its archive API finds no path in a paused container's
    // volumes (404), so there cp copies unpaused and the race stays open (README "Podman").
    const live = (info!.State?.Status === 'running' || info!.State?.Status === 'paused') && !(await podman);
    const freeze = live ? await freezeForCopy(engine, { project: config.project, env: environment.name, containerId: info!.Id }, request.notice ?? toStderr) : null;
    try {
      totals = direction === 'in' ? await copyIn(container, request.source, envArg.env, envArg.path, roots, owner) : await copyOut(container, envArg.env, envArg.path, request.destination, roots);
    } catch (err) {
      await freeze?.thaw().catch(() => undefined); // the copy's own error is the one to tell
      throw err;
    }
    await freeze?.thaw();
  } catch (err) {
    if (err instanceof CopyRefused) throw new DiagnosticsError([errorDiag(err.message, err.hint === undefined ? {} : { hint: err.hint })]);
    if (err instanceof EngineHttpError) throw new DiagnosticsError([errorDiag(`the engine refused the copy: ${err.message}`)]);
    throw hostFileError(err) ?? err;
  }
  return { format_version: COPY_FORMAT_VERSION, direction, source: request.source, destination: request.destination, ...totals };
}

const toStderr = (text: string) => {
  process.stderr.write(text);
};

type Container = ArchiveClient;

export type ContainerInfo = Awaited<ReturnType<Engine['reader']['inspectContainer']>>;

/** The container's inspect, or null when there is none. */
export async function inspectContainer(engine: Engine, name: string): Promise<ContainerInfo | null> {
  try {
    return await engine.reader.inspectContainer(name);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw err;
  }
}

/** The container's uid:gid (its User, numeric as sandboxshift sets it), or the config's; a missing container says to apply. */
function containerOwner(info: ContainerInfo | null, config: Config, environment: EnvironmentConfig): { uid: number; gid: number } {
  const name = containerName(config.project, environment.name);
  if (!info) throw new DiagnosticsError([errorDiag(`environment.${environment.name} has no container on the engine`, { hint: 'run `sandboxshift apply` to create it' })]);
  // Ours only with all three labels exec also asks for: a container that merely carries the
  // project's label (made by hand, or for another environment) is never written into.
  const labels = info.Config.Labels ?? {};
  if (labels[Labels.project] !== config.project || labels[Labels.role] !== 'environment' || labels[Labels.environment] !== environment.name) {
    throw new DiagnosticsError([
      errorDiag(`a container named ${name} exists that sandboxshift did not create for environment.${environment.name} of project ${config.project}`, {
        hint: `remove or rename it (docker rm ${name}) and run sandboxshift apply`,
      }),
    ]);
  }
  const m = /^(\d+):(\d+)$/.exec(info.Config.User ?? '');
  if (m) return { uid: Number(m[1]), gid: Number(m[2]) };
  // A host folder as /workspace: the container runs as the folder's owner.
  const env = withHostWorkspaceOwner(config, environment, []) ?? environment;
  return { uid: env.uid, gid: env.gid };
}

function checkedContainerPath(env: string, path: string, roots: readonly string[]) {
  const cp = containerPath(path);
  const shown = `${env}:${path}`;
  if (!underRoots(cp.abs, roots)) throw new CopyRefused(outsideMessage(shown, cp.abs, roots));
  return { ...cp, shown };
}

async function copyIn(container: Container, hostPath: string, env: string, path: string, roots: readonly string[], owner: { uid: number; gid: number }): Promise<CopyTotals> {
  const dest = checkedContainerPath(env, path, roots);
  const srcAbs = resolve(hostPath);
  const st = await lstat(srcAbs).catch(() => null);
  if (!st) throw new CopyRefused(`no such file or folder on the host: ${hostPath}`);
  if (/\/\.?$/.test(hostPath) && !st.isDirectory()) throw new CopyRefused(`${hostPath} is not a folder`);
  const entries = scanHostSource(srcAbs);
  const resolved = await resolveContainerPath(container, dest.abs, roots, dest.shown);
  await pauseForTest('cp-checked');
  const where = landing(
    { isDir: st.isDirectory(), name: basename(srcAbs), contentsOnly: /(^|\/)\.$/.test(hostPath) },
    { path: resolved.real, trailingSlash: dest.trailingSlash, existing: resolved.existing, parentExisting: resolved.parentExisting },
    (p) => posix.dirname(p),
    (p) => posix.basename(p),
  );
  if (!where.ok) throw new CopyRefused(`${dest.shown}: ${where.error}`);
  return copyIntoContainer(container, entries, where.dir, where.name, owner.uid, owner.gid);
}

async function copyOut(container: Container, env: string, path: string, hostPath: string, roots: readonly string[]): Promise<CopyTotals> {
  const source = checkedContainerPath(env, path, roots);
  const resolved = await resolveContainerPath(container, source.abs, roots, source.shown);
  await pauseForTest('cp-checked');
  if (resolved.existing === 'missing') throw new CopyRefused(`no such file or folder in environment.${env}: ${source.abs}`);
  if (source.trailingSlash && resolved.existing !== 'dir') throw new CopyRefused(`${source.shown} is not a folder`);
  const destAbs = resolve(hostPath);
  const where = landing(
    { isDir: resolved.existing === 'dir', name: posix.basename(source.abs), contentsOnly: source.contentsOnly },
    { path: destAbs, trailingSlash: /\/\.?$/.test(hostPath), existing: await hostKind(destAbs), parentExisting: await hostKind(dirname(destAbs)) },
    dirname,
    basename,
  );
  if (!where.ok) throw new CopyRefused(where.error);
  return copyOutOfContainer(container, resolved.real, where.dir, where.name);
}

/**
 * A host file system failure (a folder not writable, a file not readable, /proc) as the path and
 * why; left alone, its ENOENT or EACCES would read as "cannot reach the Docker engine". A socket
 * error (the engine's) has no path and passes through.
 */
function hostFileError(err: unknown): DiagnosticsError | null {
  const e = err as NodeJS.ErrnoException | undefined;
  if (typeof e?.code !== 'string' || typeof e.path !== 'string' || e.syscall === 'connect') return null;
  const why = e.message.replace(/^[A-Z0-9_]+: /, '').replace(/, [a-z_]+ '.*'$/s, '');
  return new DiagnosticsError([errorDiag(`cannot ${e.syscall ?? 'use'} ${e.path} on the host: ${why} (${e.code})`)]);
}

async function hostKind(path: string): Promise<Existing> {
  const st = await stat(path).catch(() => null);
  return st === null ? 'missing' : st.isDirectory() ? 'dir' : 'file';
}
