import { connectEngine } from '../../engine/client.js';
import { planProject } from '../../app/plan.js';
import { checkPlanDestination, writePlanFile } from '../../app/plan-file.js';
import { hasChanges } from '../../plan/types.js';
import { planToJson } from '../../render/json.js';
import { REFRESH_HELP, configPath, parse, refreshMode, strings } from '../args.js';
import { EXIT_CHANGES, EXIT_OK, type Io } from '../io.js';
import { FORMAT_HELP, FORMAT_OPTIONS, planFormat, renderPlan } from '../plan-format.js';
import { NO_TUI_HELP, loadTui, tuiColor, wantsTui } from '../tui.js';

export const planHelp = `Usage: sandboxshift plan [options]

Compares sandboxshift.yaml with the live Docker engine and shows what apply would do.

Options:
  -c, --config FILE       config file (default: sandboxshift.yaml, or $SANDBOXSHIFT_CONFIG)
${FORMAT_HELP}
  --out FILE              save the plan (mode 0600; replaces only an earlier saved plan);
                          \`sandboxshift apply FILE\` applies exactly it
  --target ENV            limit the plan to an environment (repeatable)
  --detailed-exitcode     exit 0 when there are no changes, 2 when there are, 1 on error
${REFRESH_HELP}
  --no-color              plain text
${NO_TUI_HELP}`;

export async function planCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse('plan', argv, {
    ...FORMAT_OPTIONS,
    out: { type: 'string' },
    target: { type: 'string', multiple: true },
    'detailed-exitcode': { type: 'boolean' },
    refresh: { type: 'string' },
  });
  const format = planFormat('plan', values);
  const refresh = refreshMode('plan', values.refresh);
  // A destination the plan could not be saved to is refused before the engine is asked.
  if (typeof values.out === 'string') checkPlanDestination(values.out);
  const plan = await planProject(connectEngine(), configPath(values), { targets: strings(values.target), refresh });
  if (format === 'text' && wantsTui(io, values)) await (await loadTui()).reviewPlanInteractively(planToJson(plan), { approve: false, color: tuiColor(io) });
  else io.out(await renderPlan(plan, format, io.style));
  if (typeof values.out === 'string') {
    writePlanFile(values.out, plan);
    io.err(`\nSaved the plan to ${values.out}. To apply exactly this plan: sandboxshift apply ${values.out}\n`);
  }
  return values['detailed-exitcode'] && hasChanges(plan) ? EXIT_CHANGES : EXIT_OK;
}
