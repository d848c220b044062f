// --format for the commands that print a plan (plan, diff): text, json or markdown. `--json`
// stays as the short form of `--format json`.
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import type { Plan } from '../plan/types.js';
import { planToJson, renderJson } from '../render/json.js';
import type { MarkdownOptions } from '../render/markdown.js';
import type { Style } from '../render/style.js';
import { renderText } from '../render/text.js';
import type { Values } from './args.js';

export const PLAN_FORMATS = ['text', 'json', 'markdown'] as const;
export type PlanFormat = (typeof PLAN_FORMATS)[number];

export const FORMAT_OPTIONS = {
  format: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const FORMAT_HELP = `  --format FORMAT         text (default), json (the versioned JSON plan, schemas/plan.schema.json)
                          or markdown (a pull-request comment body)
  --json                  same as --format json`;

export function planFormat(command: string, values: Values): PlanFormat {
  const raw = values.format;
  const json = values.json === true;
  if (raw === undefined) return json ? 'json' : 'text';
  const format = PLAN_FORMATS.find((f) => f === raw);
  if (!format) {
    throw new DiagnosticsError([errorDiag(`${command}: unknown --format '${String(raw)}'`, { hint: `use --format ${PLAN_FORMATS.join(', --format ')}` })]);
  }
  if (json && format !== 'json') {
    throw new DiagnosticsError([errorDiag(`${command}: --json and --format ${format} ask for different formats`, { hint: '--json is short for --format json; pass only one of them' })]);
  }
  return format;
}

/** Markdown (and its diff library) loads only when asked for: plan's hot path stays small. */
export async function renderPlan(plan: Plan, format: PlanFormat, style: Style, markdown: MarkdownOptions = {}): Promise<string> {
  if (format === 'json') return renderJson(plan);
  const json = planToJson(plan);
  if (format === 'markdown') return (await import('../render/markdown.js')).renderMarkdown(json, markdown);
  return renderText(json, style);
}
