// apply and destroy: the views around the application layer's converge() (plain text and
// prompt, or the Ink TUI), and the outcome as an exit code.
import type { ApplyListener } from '../../apply/events.js';
import { converge, incomplete, type ConvergeHooks, type ConvergeRequest } from '../../app/converge.js';
import type { StopSignal } from '../../app/lock.js';
import { applyEventLine, applySummary, planToJson, renderText } from '../../render/index.js';
import { configArgs } from '../args.js';
import { EXIT_ERROR, EXIT_OK, confirm, type Io } from '../io.js';
import { loadTui, tuiColor } from '../tui.js';

export async function convergeCommand(req: ConvergeRequest, io: Io, options: { tui: boolean }): Promise<number> {
  const destroy = req.command === 'destroy';
  const hooks = options.tui ? await tuiHooks(io) : textHooks(io, destroy);
  const outcome = await converge(
    { ...req, unlockArgs: configArgs(req.configPath) },
    {
      ...hooks,
      interrupted: (signal) => io.err(interruptedLine(signal)),
      lockTakenOver: (stale) => io.err(`lock held by pid ${stale.pid} on this host, which is gone: taking it over\n`),
    },
  );
  if (outcome.status === 'cancelled') {
    io.err(`\n${destroy ? 'Destroy' : 'Apply'} cancelled; nothing was changed.\n`);
    return EXIT_ERROR;
  }
  if (outcome.status === 'applied' && !options.tui) io.out(`\n${applySummary(outcome.result, outcome.plan.mode, io.style)}`);
  return incomplete(outcome) ? EXIT_ERROR : EXIT_OK;
}

export function interruptedLine(signal: StopSignal): string {
  const what = signal === 'SIGINT' ? 'Interrupted' : 'Terminated (SIGTERM)';
  return `\n${what}: releasing the lock; run \`sandboxshift plan\` to see what is left.\n`;
}

function textHooks(io: Io, destroy: boolean): Omit<ConvergeHooks, 'interrupted'> {
  return {
    show: async (plan) => io.out(renderText(planToJson(plan), io.style)),
    approve: () => confirm(io, destroy ? '\nDo you really want to destroy these environments?' : '\nDo you want to perform these actions?'),
    execute: (_plan, run) => {
      io.out('\n');
      return run((e) => {
        const line = applyEventLine(e, io.style);
        if (line) io.out(`${line}\n`);
      });
    },
  };
}

async function tuiHooks(io: Io): Promise<Omit<ConvergeHooks, 'interrupted'>> {
  const tui = await loadTui();
  const color = tuiColor(io);
  return {
    // With approval next, the interactive review shows the plan once, with the question.
    show: async (plan, next) => {
      if (!next.approval) await tui.reviewPlanInteractively(planToJson(plan), { approve: false, color });
    },
    approve: (plan) => tui.reviewPlanInteractively(planToJson(plan), { approve: true, color }),
    execute: (plan, run) => tui.runApplyWithProgress(planToJson(plan), (onEvent: ApplyListener) => run(onEvent), { color }),
  };
}
