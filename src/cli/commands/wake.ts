import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { wake } from '../../app/idle.js';
import { connectEngine, load } from '../../app/pipeline.js';
import { configArgs, configPath, parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';

export const wakeHelp = `Usage: sandboxshift wake ENV [--config FILE]

Starts an environment an idle policy stopped, or unpauses one it paused, and forgets that it
was idle: plan and apply treat it as running again. Counts as activity, so its idle clock
starts again now. An environment already running is left running.`;

export async function wakeCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('wake', argv, {});
  const path = configPath(values);
  const loaded = load(path, { needSecrets: false, readBuildContexts: false });
  const env = environmentArg('wake', positionals[0], [...loaded.desired.environments.keys()]);
  const outcome = await wake(connectEngine(), loaded.desired.project, env, { unlockArgs: configArgs(path) });
  const said = outcome.did === 'none' ? 'was already running' : `${outcome.did} in ${outcome.elapsedMs} ms`;
  io.out(`environment.${env} ${said}.\n`);
  return EXIT_OK;
}

/** The ENV argument of wake and touch: one of the config's environments. */
export function environmentArg(command: string, env: string | undefined, names: string[]): string {
  const known = [...names].sort();
  if (!env) throw new DiagnosticsError([errorDiag(`${command} needs an environment name`, { hint: `sandboxshift ${command} ENV; the config has: ${known.join(', ') || 'none'}` })]);
  if (!known.includes(env)) throw new DiagnosticsError([errorDiag(`no environment '${env}' in the config`, { hint: `the config has: ${known.join(', ') || 'none'}` })]);
  return env;
}
