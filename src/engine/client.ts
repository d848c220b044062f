// The engine connection, and the one place engine failures become advice.
import type Docker from 'dockerode';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { dockerodeReader, httpReader, plainTarget, type EngineReader } from './reader.js';
import { dockerHostName, dockerHostProblem } from './target.js';

export type { Docker };

export interface Engine {
  /** Light GET client for observe(); no dockerode load. */
  reader: EngineReader;
  /** dockerode, loaded on first use, for everything that changes the engine. */
  docker(): Promise<Docker>;
}

/**
 * dockerode reads DOCKER_HOST (tcp://, unix://, ssh://) itself; otherwise the local socket. A
 * DOCKER_HOST that names no engine fails each call on the engine with advice (badDockerHost);
 * what needs no engine (validate's checks) still runs.
 */
export function connectEngine(): Engine {
  const bad = badDockerHost();
  if (bad) {
    const fail = () => Promise.reject(bad);
    return { reader: dockerodeReader(fail), docker: fail };
  }
  let loaded: Promise<Docker> | undefined;
  const docker = () => (loaded ??= import('dockerode').then((m) => new m.default()));
  const target = plainTarget();
  return { reader: target ? httpReader(target) : dockerodeReader(docker), docker };
}

/** An Engine around an existing dockerode client (tests, library users). */
export function engineFrom(docker: Docker): Engine {
  const d = async () => docker;
  const target = plainTarget();
  return { reader: target ? httpReader(target) : dockerodeReader(d), docker: d };
}

export function engineDescription(): string {
  return process.env.DOCKER_HOST ? `the Docker engine at DOCKER_HOST=${process.env.DOCKER_HOST}` : 'the Docker engine on /var/run/docker.sock';
}

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT']);

/** A name lookup that failed: the engine's only when it is DOCKER_HOST's host (not a registry's, say). */
const LOOKUP_FAILED = new Set(['ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether `err` says the engine did not answer. A host file system error (it names a `path`,
 * from a call other than connect: a file not found, a folder not writable) is not one, whatever
 * its code: read as one, a plan file that could not be written said the engine was unreachable.
 */
export function isEngineUnreachable(err: unknown): boolean {
  const e = err as (NodeJS.ErrnoException & { hostname?: unknown }) | undefined;
  if (typeof e?.path === 'string' && e.syscall !== 'connect') return false;
  const code = e?.code;
  if (typeof code !== 'string') return false;
  if (LOOKUP_FAILED.has(code)) return e?.hostname !== undefined && e.hostname === dockerHostName(process.env.DOCKER_HOST);
  return UNREACHABLE.has(code);
}

const HOST_FORMS = 'unix:///PATH/TO/docker.sock, tcp://HOST:PORT or ssh://USER@HOST';

export function engineUnreachable(err: unknown): DiagnosticsError {
  const code = (err as NodeJS.ErrnoException).code;
  const host = dockerHostName(process.env.DOCKER_HOST);
  const hint =
    code === 'ENOTFOUND'
      ? `the host name ${host} does not resolve: check the host in DOCKER_HOST (${HOST_FORMS}), or unset DOCKER_HOST to use the engine on /var/run/docker.sock`
      : code === 'EAI_AGAIN'
        ? `the host name ${host} could not be looked up (no answer from DNS): check the network and the host in DOCKER_HOST, or unset DOCKER_HOST to use the engine on /var/run/docker.sock`
        : 'start Docker, or run `npm run setup` as root on Debian to install and start one, or point DOCKER_HOST at an engine';
  return new DiagnosticsError([errorDiag(`cannot reach ${engineDescription()} (${code})`, { hint })]);
}

/** DOCKER_HOST that names no engine (no host, an unknown scheme, not a URL) as advice; null when it names one or is unset. */
export function badDockerHost(env: NodeJS.ProcessEnv = process.env): DiagnosticsError | null {
  const problem = dockerHostProblem(env.DOCKER_HOST);
  if (problem === null) return null;
  return new DiagnosticsError([
    errorDiag(`cannot reach the Docker engine: DOCKER_HOST=${env.DOCKER_HOST} is not an engine's address (${problem})`, {
      hint: `set DOCKER_HOST to ${HOST_FORMS}, or unset it to use the engine on /var/run/docker.sock`,
    }),
  ]);
}

/** Wraps engine calls so an unreachable engine gives advice instead of a stack trace. */
export async function withEngine<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isEngineUnreachable(err)) throw engineUnreachable(err);
    throw err;
  }
}

export function statusCode(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; json?: { cause?: unknown } } | undefined;
  const code = e?.statusCode;
  if (typeof code !== 'number') return undefined;
  const cause = e?.json?.cause;
  return code === 500 && typeof cause === 'string' ? (PODMAN_500_AS[cause] ?? code) : code;
}

/**
 * Podman 4.3 answers some refusals with a 500 where Docker has a status of its own, told by the
 * cause: a create with a name already in use (Docker 409), and a container removed while it is
 * asked for (Docker 404). Read as Docker's, so every caller handles both (README "Podman").
 */
const PODMAN_500_AS: Record<string, number> = { 'that name is already in use': 409, 'no such container': 404 };

/** An error answer from the engine (dockerode's, or the light reader's): it has an HTTP status. */
export function isEngineRefusal(err: unknown): boolean {
  return statusCode(err) !== undefined;
}

/** An engine's refusal that no caller expected, as advice instead of a stack trace. */
export function engineRefused(err: unknown): DiagnosticsError {
  const message = engineMessage(err)
    .replace(/^\(HTTP code \d+\) [^-]*- /, '')
    .trim();
  return new DiagnosticsError([
    errorDiag(`${engineDescription()} refused a request (HTTP ${statusCode(err)}): ${message}`, {
      hint: 'check that the engine has what the config names (images: `sandboxshift images`, `npm run setup`); with Podman see README "Podman"',
    }),
  ]);
}

/** Docker's error text without dockerode's request dump. */
export function engineMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; reason?: string; message?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}
