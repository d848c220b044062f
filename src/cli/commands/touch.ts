import { touch } from '../../app/idle.js';
import { connectEngine, load } from '../../app/pipeline.js';
import { configPath, parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';
import { environmentArg } from './wake.js';

export const touchHelp = `Usage: sandboxshift touch ENV [--config FILE]

Records activity for an environment from outside (on the engine, so any watcher sees it): its
idle policy's clock starts again now. From inside, an agent touches
/workspace/.sandboxshift-heartbeat instead.`;

export async function touchCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('touch', argv, {});
  const loaded = load(configPath(values), { needSecrets: false, readBuildContexts: false });
  const env = environmentArg('touch', positionals[0], [...loaded.desired.environments.keys()]);
  const at = await touch(connectEngine(), loaded.desired.project, env);
  io.out(`environment.${env}: activity recorded at ${new Date(at).toISOString()}.\n`);
  return EXIT_OK;
}
