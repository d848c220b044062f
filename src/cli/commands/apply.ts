import { REFRESH_HELP, configPath, parse, positiveInt, refreshMode, strings } from '../args.js';
import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
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
  if (positionals.length > 1) {
    throw new DiagnosticsError([errorDiag(`apply: unexpected argument '${positionals[1]}'`, { hint: 'apply takes at most one saved plan file: sandboxshift apply [PLANFILE]' })]);
  }
  // A saved plan is applied exactly as made: its targets and refresh are its own.
  const ignored = planPath ? (['target', 'refresh'] as const).filter((flag) => values[flag] !== undefined) : [];
  if (ignored.length) {
    throw new DiagnosticsError([
      errorDiag(`apply ${planPath}: ${ignored.map((f) => `--${f}`).join(' and ')} cannot change a saved plan`, {
        hint: `make the plan with them (sandboxshift plan ${ignored.map((f) => `--${f} …`).join(' ')} --out FILE), or apply without a plan file`,
      }),
    ]);
  }
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
