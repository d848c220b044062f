// `exec` and `shell` as a library call: resolve the environment from the config, find its
// container, start or unpause it when it is not running (through `wake`, so the idle record
// goes and the lock is respected), then run the command in /workspace as the container's user
// with its secrets loaded. The engine's exec events are what the watcher's idle clock counts,
// so an exec is activity. Kept light: a whole `exec ENV true` is meant to cost about what
// `docker exec` does, so the config comes from the checked-config cache and the engine is
// spoken to over plain HTTP when it can be.
import { cachedConfig } from '../config/cache-read.js';
import type { LoadResult } from '../config/load.js';
import { peekProject } from '../config/peek.js';
import { closestMatch } from '../config/suggest.js';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { statusCode, type Engine } from '../engine/client.js';
import { execApiFor } from '../engine/exec-api.js';
import type { ExecSessionRequest, ExecStreams } from '../engine/exec-session.js';
import { findExecTarget, type ExecTarget } from '../engine/exec-target.js';
import { containerName } from '../model/names.js';
import { startExec } from './exec-fast.js';
import { NEVER_STARTED, neverStartedError } from './never-started.js';

export { EXEC_WORKING_DIR } from './exec-fast.js';

export interface ExecRequest {
  configPath: string;
  /** The environment's name (checked against the config). */
  environment: string | undefined;
  /** The command; the secret loader is put in front of it. */
  cmd: string[];
  tty?: ExecSessionRequest['tty'];
  /** Extra variables such as TERM (never a secret). */
  env?: string[];
  /** `-c FILE` for the hints, when the config is not the default one. */
  configArgs?: string[];
  /** Said on stderr before the environment is started or unpaused. */
  notice: (text: string) => void;
  /** Called once the command is about to run (the CLI puts the terminal in raw mode then). */
  starting?: () => void;
}

/** Runs the command and returns its exit code. */
export async function execInEnvironment(engine: Engine, request: ExecRequest, streams: ExecStreams): Promise<number> {
  const env = request.environment;
  // The container lookup leaves while the config is read and checked.
  const peeked = env ? await peekProject(request.configPath) : null;
  const early = peeked && env ? findExecTarget(engine.reader, peeked, env) : null;
  early?.catch(() => undefined);
  const { config, diagnostics } = await loadConfig(request.configPath);
  if (!config) throw new DiagnosticsError(diagnostics);
  const known = Object.keys(config.environments).sort();
  if (!env) throw new DiagnosticsError([errorDiag('an environment name is needed', { hint: `the config has: ${known.join(', ') || 'none'}` })]);
  if (!known.includes(env)) {
    const near = closestMatch(env, known);
    throw new DiagnosticsError([errorDiag(`no environment '${env}' in the config${near ? `; did you mean '${near}'?` : ''}`, { hint: `the config has: ${known.join(', ') || 'none'}` })]);
  }
  const project = config.project;
  const target = early && peeked === project ? await early : await findExecTarget(engine.reader, project, env);
  if (!target) {
    const apply = ['sandboxshift apply', ...(request.configArgs ?? [])].join(' ');
    // Its name may be held by a container we did not make: apply would stop on it too.
    const name = containerName(project, env);
    if (await nameHeld(engine, name)) {
      throw new DiagnosticsError([
        errorDiag(`a container named ${name} exists that sandboxshift did not create for environment.${env} of project ${project}`, {
          hint: `remove or rename it (docker rm ${name}) and run ${apply}`,
        }),
      ]);
    }
    throw new DiagnosticsError([errorDiag(`environment '${env}' has no container on the engine`, { hint: `run ${apply} to create it` })]);
  }
  if (target.state === NEVER_STARTED) throw neverStartedError(env, request.configArgs);
  if (target.state !== 'running') await wakeFirst(engine, project, env, target, request);
  return startExec(
    execApiFor(() => engine.docker()),
    target.id,
    request,
    streams,
  );
}

async function nameHeld(engine: Engine, name: string): Promise<boolean> {
  try {
    await engine.reader.inspectContainer(name);
    return true;
  } catch (err) {
    if (statusCode(err) === 404) return false;
    throw err;
  }
}

async function wakeFirst(engine: Engine, project: string, env: string, target: ExecTarget, request: ExecRequest): Promise<void> {
  const paused = target.state === 'paused';
  const why =
    target.idleAction === 'pause' && paused ? 'paused by its idle policy' : target.idleAction === 'stop' && !paused ? 'stopped by its idle policy' : paused ? 'it was paused' : 'it was stopped';
  request.notice(`sandboxshift: ${paused ? 'unpausing' : 'starting'} ${env} (${why})\n`);
  // Loaded only here: the lock and records are not needed on the common path.
  const { wake } = await import('./idle.js');
  await wake(engine, project, env, { unlockArgs: request.configArgs });
}

/** The config from the checked-config cache; the checking code is loaded only on a miss. */
async function loadConfig(path: string): Promise<LoadResult> {
  const hit = cachedConfig(path)?.result;
  if (hit?.config) return hit;
  const { loadConfigCached } = await import('../config/cache.js');
  return loadConfigCached(path);
}
