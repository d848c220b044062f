import { REFRESH_HELP, configPath, parse, positiveInt, refreshMode, strings } from '../args.js';
import type { Io } from '../io.js';
import { readPlanFile } from '../../app/plan-file.js';
import { NO_TUI_HELP, wantsTui } from '../tui.js';
import { convergeCommand } from './converge.js';

export const applyHelp = `Usage: sandboxshift apply [PLANFILE] [options]

Converges the engine to sandboxshift.yaml. With PLANFILE (from \`plan --out\`), applies exactly
that plan and refuses if the config or the engine changed since it was made.

Options:
  -c, --config FILE       config file (default: sandboxshift.yaml)
  --auto-approve          do not ask for approval (needed without a terminal)
  --parallelism N         environments changed at once (default 10)
  --target ENV            limit to an environment (repeatable)
${REFRESH_HELP}
  --no-color              plain text
${NO_TUI_HELP}`;

export async function applyCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('apply', argv, {
    'auto-approve': { type: 'boolean' },
    parallelism: { type: 'string' },
    target: { type: 'string', multiple: true },
    refresh: { type: 'string' },
  });
  const planPath = positionals[0];
  return convergeCommand(
    {
      command: 'apply',
      configPath: configPath(values),
      targets: strings(values.target),
      refresh: refreshMode('apply', values.refresh),
      autoApprove: values['auto-approve'] === true,
      parallelism: positiveInt('apply', 'parallelism', values.parallelism as string | undefined, 10),
      saved: planPath ? { path: planPath, plan: readPlanFile(planPath) } : undefined,
    },
    io,
    { tui: wantsTui(io, values) },
  );
}
