// The TUI's entry points for the CLI. Import this module only with a dynamic import(): Ink and
// React are heavy, and --version, validate and plan --json must not load them.
import { createElement } from 'react';
import { render, renderToString } from 'ink';
import type { ApplyListener, ApplyResult } from '../../apply/events.js';
import type { JsonPlan } from '../json.js';
import { reduceProgress, startProgress } from './apply-progress.js';
import { ApplyView } from './apply-view.js';
import { PlanView } from './plan-view.js';

export { PlanView, type PlanViewProps } from './plan-view.js';
export { ApplyView, type ApplyViewProps } from './apply-view.js';
export { startProgress, reduceProgress, type ApplyProgress } from './apply-progress.js';

export interface TuiOptions {
  /** Colours; off for --no-color and NO_COLOR. */
  color?: boolean;
}

/**
 * Shows the plan. With `approve`, waits for the answer and returns it (true: approved);
 * otherwise prints it once, all details open, and returns true.
 */
export async function reviewPlanInteractively(plan: JsonPlan, opts: TuiOptions & { approve: boolean }): Promise<boolean> {
  const color = opts.color ?? true;
  if (!opts.approve) {
    // Nothing to answer: a string, so a plan taller than the screen scrolls like any output.
    const text = renderToString(createElement(PlanView, { plan, approve: false, color }), { columns: process.stdout.columns || 80 });
    process.stdout.write(`${text}\n`);
    return true;
  }
  let approved = false;
  const view = () =>
    createElement(PlanView, {
      plan,
      approve: true,
      color,
      rows: process.stdout.rows,
      onDecision: (ok: boolean) => {
        approved = ok;
        instance.unmount();
      },
    });
  const instance = render(view(), { exitOnCtrlC: false });
  const resized = () => instance.rerender(view());
  process.stdout.on('resize', resized);
  try {
    await instance.waitUntilExit();
  } finally {
    process.stdout.off('resize', resized);
  }
  return approved;
}

/**
 * Runs `run` (the executor) with live progress from its events, then shows the summary.
 * Ctrl-C during the run is passed on as SIGINT, so the caller's handler releases the lock.
 */
export async function runApplyWithProgress(plan: JsonPlan, run: (onEvent: ApplyListener) => Promise<ApplyResult>, opts: TuiOptions = {}): Promise<ApplyResult> {
  const color = opts.color ?? true;
  let progress = startProgress(plan);
  const interrupt = () => process.kill(process.pid, 'SIGINT');
  const view = (result: ApplyResult | null) => createElement(ApplyView, { progress, result, color, onInterrupt: interrupt });
  const instance = render(view(null), { exitOnCtrlC: false });
  try {
    const result = await run((event) => {
      progress = reduceProgress(progress, event, Date.now());
      instance.rerender(view(null));
    });
    instance.rerender(view(result));
    return result;
  } finally {
    instance.unmount();
    await instance.waitUntilExit();
  }
}
