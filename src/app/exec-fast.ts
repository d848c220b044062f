// The short path of `exec` and `shell`, for the common case: the config answered from the
// checked-config cache, an engine on a plain socket, and the environment's container running.
// It loads no YAML parser, no checks, no flag parser and no dockerode, and makes the calls
// `docker exec` makes (inspect by name, create, start, inspect the exec). Anything else (a cache
// miss, a seeded workspace whose host facts need checking, a name not in the config, no container
// of ours under the environment's name, one stopped or paused, an engine that fails before the
// command starts) answers null, and the caller runs the full path in exec.ts, which finds the
// container by its labels and gives the same refusals, wake-ups and advice as ever.
import { quickCachedConfig } from '../config/cache-key.js';
import { httpExecApi, type ExecApi } from '../engine/exec-api.js';
import { execArgv } from '../engine/exec-loader.js';
import { runExecSession, type ExecStreams } from '../engine/exec-session.js';
import { runningNamedContainer } from '../engine/exec-target.js';
import { httpReader, plainTarget } from '../engine/reader.js';
import type { ExecRequest } from './exec.js';

export const EXEC_WORKING_DIR = '/workspace';

/** The command's exit code, or null when the full path must answer (nothing was run then). */
export async function quickExec(request: ExecRequest, streams: ExecStreams): Promise<number | null> {
  const env = request.environment;
  const target = plainTarget();
  const config = quickCachedConfig(request.configPath);
  if (!env || !target || !config || !Object.hasOwn(config.environments, env)) return null;
  let id;
  try {
    id = await runningNamedContainer(httpReader(target), config.project, env);
  } catch {
    return null; // the full path says what is wrong with the engine
  }
  if (id === null) return null;
  return startExec(httpExecApi(target), id, request, streams);
}

/** Runs the command in the running container `containerId` and returns its exit code. */
export function startExec(api: ExecApi, containerId: string, request: ExecRequest, streams: ExecStreams): Promise<number> {
  request.starting?.();
  return runExecSession(api, { containerId, argv: execArgv(request.cmd, request.tty?.size()), workingDir: EXEC_WORKING_DIR, tty: request.tty, env: request.env }, streams);
}
