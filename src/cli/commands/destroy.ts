import { REFRESH_HELP, configPath, parse, positiveInt, refreshMode, strings } from '../args.js';
import type { Io } from '../io.js';
import { NO_TUI_HELP, wantsTui } from '../tui.js';
import { convergeCommand } from './converge.js';

export const destroyHelp = `Usage: sandboxshift destroy [options]

Removes every environment of the project from the engine. Workspace volumes are KEPT, so a
later apply picks up where it left off, unless --purge-volumes; environments with
protect: true never lose their volume.

Options:
  -c, --config FILE       config file (default: sandboxshift.yaml)
  --purge-volumes         also delete /workspace volumes (refused for protected environments)
  --auto-approve          do not ask for approval
  --parallelism N         changes run at once (default 10); containers are stopped and
                          removed up to 64 at once regardless, as docker compose down does
  --target ENV            limit to an environment (repeatable)
${REFRESH_HELP}
  --no-color              plain text
${NO_TUI_HELP}`;

export async function destroyCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse('destroy', argv, {
    'auto-approve': { type: 'boolean' },
    'purge-volumes': { type: 'boolean' },
    parallelism: { type: 'string' },
    target: { type: 'string', multiple: true },
    refresh: { type: 'string' },
  });
  return convergeCommand(
    {
      command: 'destroy',
      configPath: configPath(values),
      targets: strings(values.target),
      refresh: refreshMode('destroy', values.refresh),
      autoApprove: values['auto-approve'] === true,
      purgeVolumes: values['purge-volumes'] === true,
      parallelism: positiveInt('destroy', 'parallelism', values.parallelism as string | undefined, 10),
    },
    io,
    { tui: wantsTui(io, values) },
  );
}
