import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { statusCode, withEngine } from '../../engine/index.js';
import { containerName, proxyName } from '../../model/names.js';
import { connectEngine, load } from '../../workflow.js';
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
  const { project } = load(configPath(values), { needSecrets: false }).desired;
  const name = values.egress ? proxyName(project, env) : containerName(project, env);
  const docker = await connectEngine().docker();
  let buffer: Buffer;
  try {
    buffer = (await withEngine(() => docker.getContainer(name).logs({ stdout: true, stderr: true, follow: false, ...(tail !== undefined ? { tail } : {}) }))) as unknown as Buffer;
  } catch (err) {
    if (statusCode(err) === 404) {
      throw new DiagnosticsError([errorDiag(`${values.egress ? 'egress proxy' : 'environment'} ${name} does not exist`, { hint: values.egress ? `environment '${env}' has no egress allow list, or is not applied` : 'run sandboxshift apply' })]);
    }
    throw err;
  }
  io.out(demux(buffer));
  return EXIT_OK;
}

/** The engine multiplexes stdout/stderr in 8-byte framed chunks when there is no TTY. */
function demux(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return out;
}
