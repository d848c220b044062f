// apply and destroy share one flow: lock, observe, plan, show, approve, execute, summarize.
import { DiagnosticsError, errorDiag, hasErrors } from '../../diagnostics.js';
import type { ApplyListener } from '../../apply/events.js';
import { acquireLock } from '../../engine/index.js';
import { hasChanges, staleReasons, type Plan } from '../../plan/index.js';
import { applyEventLine, applySummary, planToJson, renderText } from '../../render/index.js';
import { applyPlan, checkImageContracts, connectEngine, load, observeFor, planFor, type Refresh } from '../../workflow.js';
import { configArgs } from '../args.js';
import { EXIT_ERROR, EXIT_OK, confirm, type Io } from '../io.js';
import { loadTui, tuiColor } from '../tui.js';

export interface ConvergeRequest {
  command: 'apply' | 'destroy';
  configPath: string;
  targets: string[];
  autoApprove: boolean;
  parallelism: number;
  purgeVolumes?: boolean;
  /** A saved plan that must still hold. */
  saved?: { path: string; plan: Plan };
  /** `full`: inspect every environment container for security drift. */
  refresh?: Refresh;
  /** Plan, approval and progress in the Ink TUI (a person at a terminal, see cli/tui.ts). */
  tui?: boolean;
}

export async function converge(req: ConvergeRequest, io: Io): Promise<number> {
  const destroy = req.command === 'destroy';
  const loaded = load(req.configPath, { needSecrets: !destroy });
  const engine = connectEngine();
  const lock = await acquireLock(await engine.docker(), loaded.desired.project, req.command, {
    unlockArgs: configArgs(req.configPath),
    onTakeover: (stale) => io.err(`lock held by pid ${stale.pid} on this host, which is gone: taking it over\n`),
  });
  // Ctrl-C: give the lock back, then stop. Work in flight may be cut short; the next plan
  // shows exactly what is left.
  const interrupted = () => {
    io.err('\nInterrupted: releasing the lock; run `sandboxshift plan` to see what is left.\n');
    void lock.release().finally(() => process.exit(130));
  };
  // `on`, not `once`: Ink's exit hook (signal-exit) kills the process again with SIGINT when it
  // sees no other listener left, before the lock is given back.
  process.on('SIGINT', interrupted);
  try {
    // A saved plan made with a full refresh is checked against an equally close look.
    const refresh = req.saved?.plan.refresh ?? req.refresh;
    const observed = await observeFor(engine, loaded.desired, refresh);
    const targets = req.saved ? req.saved.plan.targets : req.targets;
    const planned = planFor(loaded, observed, { targets, destroy, purgeVolumes: req.purgeVolumes, refresh });
    if (hasErrors(planned.diagnostics)) throw new DiagnosticsError(planned.diagnostics);
    const plan = destroy ? planned : { ...planned, diagnostics: [...planned.diagnostics, ...(await checkImageContracts(engine, loaded, planned))] };
    if (hasErrors(plan.diagnostics)) throw new DiagnosticsError(plan.diagnostics);
    if (req.saved) {
      const stale = staleReasons(req.saved.plan, plan);
      if (stale.length > 0) {
        throw new DiagnosticsError([
          errorDiag(`saved plan ${req.saved.path} is stale and was not applied: ${stale.join('; ')}`, {
            hint: `review a new one: sandboxshift plan --out ${req.saved.path}`,
          }),
        ]);
      }
    }
    const tui = req.tui ? await loadTui() : null;
    if (tui) {
      const ask = !req.autoApprove && !req.saved && hasChanges(plan);
      if (!(await tui.reviewPlanInteractively(planToJson(plan), { approve: ask, color: tuiColor(io) }))) {
        io.err(`\n${destroy ? 'Destroy' : 'Apply'} cancelled; nothing was changed.\n`);
        return EXIT_ERROR;
      }
    } else io.out(renderText(planToJson(plan), io.style));
    if (!hasChanges(plan)) return EXIT_OK;
    if (!req.autoApprove && !req.saved && !tui) {
      const question = destroy
        ? '\nDo you really want to destroy these environments?'
        : '\nDo you want to perform these actions?';
      if (!(await confirm(io, question))) {
        io.err(`\n${destroy ? 'Destroy' : 'Apply'} cancelled; nothing was changed.\n`);
        return EXIT_ERROR;
      }
    }
    if (tui) {
      const run = (onEvent: ApplyListener) => applyPlan(engine, loaded, plan, { parallelism: req.parallelism, onEvent });
      const result = await tui.runApplyWithProgress(planToJson(plan), run, { color: tuiColor(io) });
      return result.failed.length + result.skipped.length > 0 ? EXIT_ERROR : EXIT_OK;
    }
    io.out('\n');
    const result = await applyPlan(engine, loaded, plan, {
      parallelism: req.parallelism,
      onEvent: (e) => {
        const line = applyEventLine(e, io.style);
        if (line) io.out(`${line}\n`);
      },
    });
    io.out(`\n${applySummary(result, plan.mode, io.style)}`);
    return result.failed.length + result.skipped.length > 0 ? EXIT_ERROR : EXIT_OK;
  } finally {
    process.removeListener('SIGINT', interrupted);
    await lock.release();
  }
}
