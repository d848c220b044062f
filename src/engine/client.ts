// The engine connection, and the one place engine failures become advice.
import type Docker from 'dockerode';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { dockerodeReader, httpReader, plainTarget, type EngineReader } from './reader.js';

export type { Docker };

export interface Engine {
  /** Light GET client for observe(); no dockerode load. */
  reader: EngineReader;
  /** dockerode, loaded on first use, for everything that changes the engine. */
  docker(): Promise<Docker>;
}

/** dockerode reads DOCKER_HOST (tcp://, unix://, ssh://) itself; otherwise the local socket. */
export function connectEngine(): Engine {
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

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT']);

/**
 * Whether `err` says the engine did not answer. A host file system error (it names a `path`,
 * from a call other than connect: a file not found, a folder not writable) is not one, whatever
 * its code: read as one, a plan file that could not be written said the engine was unreachable.
 */
export function isEngineUnreachable(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  if (typeof e?.path === 'string' && e.syscall !== 'connect') return false;
  return typeof e?.code === 'string' && UNREACHABLE.has(e.code);
}

export function engineUnreachable(err: unknown): DiagnosticsError {
  const code = (err as NodeJS.ErrnoException).code;
  return new DiagnosticsError([
    errorDiag(`cannot reach ${engineDescription()} (${code})`, {
      hint: 'start Docker, or run `npm run setup` as root on Debian to install and start one, or point DOCKER_HOST at an engine',
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
