import { describeEgress } from '../../app/egress.js';
import { connectEngine } from '../../app/pipeline.js';
import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { renderEgressText } from '../../render/egress-text.js';
import { configPath, nonNegativeInt, parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';

export const egressHelp = `Usage: sandboxshift egress ENV [--json] [--tail N] [--config FILE]

Shows what an environment may reach: its effective allow list with where each rule was
written (defaults.egress or the environment's own egress), how the engine enforces it (an
internal network and a filtering proxy, or no network at all), the policy's sha256 and
whether the proxy on the engine enforces what the config says (if not, an apply is pending),
and the proxy's last decisions.

Options:
  --json      one versioned JSON object (format_version "1.0")
  --tail N    how many of the last decisions to show (default 20; 0 reads none)`;

export async function egressCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('egress', argv, { json: { type: 'boolean' }, tail: { type: 'string' } });
  const environment = positionals[0];
  if (!environment) throw new DiagnosticsError([errorDiag('egress needs an environment name', { hint: 'sandboxshift egress ENV [--json] [--tail N]' })]);
  const tail = nonNegativeInt('egress', 'tail', values.tail as string | undefined) ?? 20;
  const report = await describeEgress(connectEngine(), { configPath: configPath(values), environment, tail });
  io.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderEgressText(report, tail));
  return EXIT_OK;
}
