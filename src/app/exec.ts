// `exec` and `shell` as a library call: find the environment's container, start or unpause it
// when it is not running (through `wake`, so the idle record goes and the lock is respected),
// then run the command in /workspace as the container's user with its secrets loaded. The
// engine's exec events are what the watcher's idle clock counts, so an exec is activity.
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import type { Engine } from '../engine/client.js';
import { execArgv } from '../engine/exec-loader.js';
import { execApiFor } from '../engine/exec-api.js';
import { runExecSession, type ExecSessionRequest, type ExecStreams } from '../engine/exec-session.js';
import { findExecTarget } from '../engine/exec-target.js';
import { wake } from './idle.js';

export const EXEC_WORKING_DIR = '/workspace';

export interface ExecRequest {
  project: string;
  environment: string;
  /** The command; the secret loader is put in front of it. */
  cmd: string[];
  tty?: ExecSessionRequest['tty'];
  /** Extra variables such as TERM (never a secret). */
  env?: string[];
  /** `-c FILE` for the hints, when the config is not the default one. */
  unlockArgs?: string[];
  /** Said on stderr before the environment is started or unpaused. */
  notice: (text: string) => void;
}

/** Runs the command and returns its exit code. */
export async function execInEnvironment(engine: Engine, request: ExecRequest, streams: ExecStreams): Promise<number> {
  const { project, environment: env } = request;
  const target = await findExecTarget(engine.reader, project, env);
  if (!target) {
    throw new DiagnosticsError([
      errorDiag(`environment '${env}' has no container on the engine`, { hint: `run sandboxshift apply${request.unlockArgs?.length ? ` ${request.unlockArgs.join(' ')}` : ''} to create it` }),
    ]);
  }
  if (target.state !== 'running') {
    const paused = target.state === 'paused';
    const why =
      target.idleAction === 'pause' && paused ? 'paused by its idle policy' : target.idleAction === 'stop' && !paused ? 'stopped by its idle policy' : paused ? 'it was paused' : 'it was stopped';
    request.notice(`sandboxshift: ${paused ? 'unpausing' : 'starting'} ${env} (${why})\n`);
    await wake(engine, project, env, { unlockArgs: request.unlockArgs });
  }
  return runExecSession(
    execApiFor(() => engine.docker()),
    { containerId: target.id, argv: execArgv(request.cmd), workingDir: EXEC_WORKING_DIR, tty: request.tty, env: request.env },
    streams,
  );
}
