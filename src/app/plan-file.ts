// Saved plan files: the JSON plan, written 0600. They hold no secret values.
import { readFileSync, writeFileSync } from 'node:fs';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import type { Plan } from '../plan/types.js';
import { PLAN_FORMAT_VERSION, planFromJson, renderJson, type JsonPlan } from '../render/json.js';

export function writePlanFile(path: string, plan: Plan): void {
  writeFileSync(path, renderJson(plan), { mode: 0o600 });
}

export function readPlanFile(path: string): Plan {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DiagnosticsError([errorDiag(`cannot read plan file ${path} (${(err as NodeJS.ErrnoException).code})`, { hint: 'make one with `sandboxshift plan --out FILE`' })]);
  }
  let json: JsonPlan;
  try {
    json = JSON.parse(text) as JsonPlan;
  } catch {
    throw new DiagnosticsError([errorDiag(`${path} is not a saved plan (not JSON)`, { hint: 'make one with `sandboxshift plan --out FILE`' })]);
  }
  if (json?.format_version !== PLAN_FORMAT_VERSION || !Array.isArray(json.resource_changes)) {
    throw new DiagnosticsError([
      errorDiag(`${path} is not a saved plan of format ${PLAN_FORMAT_VERSION} (found ${String(json?.format_version)})`, {
        hint: 'make a new one with `sandboxshift plan --out FILE`',
      }),
    ]);
  }
  return planFromJson(json);
}
