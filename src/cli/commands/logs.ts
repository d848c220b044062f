import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { statusCode, withEngine } from '../../engine/index.js';
import { demuxedLogs } from '../../engine/log-stream.js';
import { containerName, proxyName } from '../../model/names.js';
import { connectEngine, load } from '../../app/pipeline.js';
import { configPath, nonNegativeInt, parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';

export const logsHelp = `Usage: sandboxshift logs ENV [--egress] [--tail N] [--config FILE]

Prints an environment's output, or with --egress its proxy's decisions: one JSON line per
connection attempt, allowed or denied, with the rule or the reason.`;

export async function logsCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('logs', argv, { egress: { type: 'boolean' }, tail: { type: 'string' } });
  const env = positionals[0];
  if (!env) throw new DiagnosticsError([errorDiag('logs needs an environment name', { hint: 'sandboxshift logs ENV [--egress]' })]);
  const tail = nonNegativeInt('logs', 'tail', values.tail as string | undefined);
  const { project } = load(configPath(values), { needSecrets: false, readBuildContexts: false }).desired;
  const name = values.egress ? proxyName(project, env) : containerName(project, env);
  const docker = await connectEngine().docker();
  let buffer: Buffer;
  try {
    buffer = await withEngine(() => docker.getContainer(name).logs({ stdout: true, stderr: true, follow: false, ...(tail !== undefined ? { tail } : {}) }));
  } catch (err) {
    if (statusCode(err) === 404) {
      throw new DiagnosticsError([
        errorDiag(`${values.egress ? 'egress proxy' : 'environment'} ${name} does not exist`, {
          hint: values.egress ? `environment '${env}' has no egress allow list, or is not applied` : 'run sandboxshift apply',
        }),
      ]);
    }
    throw err;
  }
  io.out(await demuxedLogs(docker, buffer));
  return EXIT_OK;
}
