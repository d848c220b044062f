// The Docker client and the one place engine failures become advice.
import Docker from 'dockerode';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';

export type Engine = Docker;

/** dockerode reads DOCKER_HOST (tcp://, unix://, ssh://) itself; otherwise the local socket. */
export function connectEngine(): Engine {
  return new Docker();
}

export function engineDescription(): string {
  return process.env.DOCKER_HOST ? `the Docker engine at DOCKER_HOST=${process.env.DOCKER_HOST}` : 'the Docker engine on /var/run/docker.sock';
}

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT']);

/** Turns "no engine" into a diagnostic that says how to get one; anything else propagates. */
export function isEngineUnreachable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && UNREACHABLE.has(code);
}

export function engineUnreachable(err: unknown): DiagnosticsError {
  const code = (err as NodeJS.ErrnoException).code;
  return new DiagnosticsError([
    errorDiag(`cannot reach ${engineDescription()} (${code})`, {
      hint: 'start Docker, or run `npm run setup` as root on Debian to install and start one, or point DOCKER_HOST at an engine',
    }),
  ]);
}

/** Wraps an engine call so an unreachable engine gives advice instead of a stack trace. */
export async function withEngine<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isEngineUnreachable(err)) throw engineUnreachable(err);
    throw err;
  }
}

export function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** Docker's error text without dockerode's request dump. */
export function engineMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; reason?: string; message?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}
