// Saved plan files (`plan --out FILE`, `apply FILE`): the JSON plan plus a checksum over its
// content, written 0600. They hold no secret values. Read back, a file must be a plan of this
// format, match schemas/plan.schema.json, and still carry the checksum it was saved with: a
// file edited by hand is *tampered*, which is a different thing from *stale* (the config or the
// engine changed since; app/converge.ts checks that against a fresh plan).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { hashOf } from '../model/hash.js';
import type { Plan } from '../plan/types.js';
import { PLAN_FORMAT_VERSION, changeShapeProblem, planFromJson, planToJson, type JsonPlan } from '../render/json.js';

/** Two folders up from both src/app/ and dist/app/; package.json ships `schemas/`. */
export const PLAN_SCHEMA_FILE = fileURLToPath(new URL('../../schemas/plan.schema.json', import.meta.url));

const NEW_PLAN = 'make a new one with `sandboxshift plan --out FILE` and review it';

/** The checksum a saved plan carries: sha256 of the canonical JSON of everything else in it. */
export function planChecksum(json: object): string {
  const content: Record<string, unknown> = { ...(json as Record<string, unknown>) };
  delete content.checksum;
  return `sha256:${hashOf(content)}`;
}

export function writePlanFile(path: string, plan: Plan): void {
  const json = planToJson(plan);
  writeFileSync(path, `${JSON.stringify({ ...json, checksum: planChecksum(json) }, null, 2)}\n`, { mode: 0o600 });
}

export function readPlanFile(path: string): Plan {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DiagnosticsError([errorDiag(`cannot read plan file ${path} (${(err as NodeJS.ErrnoException).code})`, { hint: 'make one with `sandboxshift plan --out FILE`' })]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DiagnosticsError([errorDiag(`${path} is not a saved plan (not JSON)`, { hint: 'make one with `sandboxshift plan --out FILE`' })]);
  }
  const version = json && typeof json === 'object' ? (json as { format_version?: unknown }).format_version : undefined;
  if (version !== PLAN_FORMAT_VERSION) {
    throw new DiagnosticsError([
      errorDiag(`${path} is not a saved plan of format ${PLAN_FORMAT_VERSION} (found ${String(version)})`, {
        hint: 'make a new one with `sandboxshift plan --out FILE`',
      }),
    ]);
  }
  const invalid = firstSchemaError(json) ?? changeShapeProblem((json as JsonPlan).resource_changes);
  if (invalid) {
    throw new DiagnosticsError([errorDiag(`${path} is not a valid saved plan: ${invalid}`, { hint: NEW_PLAN })]);
  }
  const saved = json as JsonPlan & { checksum?: string };
  if (saved.checksum === undefined) {
    throw new DiagnosticsError([
      errorDiag(`${path} has no checksum, so it cannot be told apart from a hand-edited file (a \`plan --json\` output, or saved by an older sandboxshift)`, { hint: NEW_PLAN }),
    ]);
  }
  if (saved.checksum !== planChecksum(saved)) {
    throw new DiagnosticsError([errorDiag(`saved plan ${path} is tampered: it was edited after it was saved (its checksum no longer matches its content), so it was not applied`, { hint: NEW_PLAN })]);
  }
  return planFromJson(saved);
}

/** The first way `json` breaks the plan schema, as `at /path: message`, or null. */
function firstSchemaError(json: unknown): string | null {
  const validate = planValidator();
  if (validate(json)) return null;
  const e: ErrorObject | undefined = validate.errors?.[0];
  if (!e) return 'does not match the schema';
  const where = e.instancePath || '(top level)';
  const detail =
    e.keyword === 'enum'
      ? `: ${(e.params as { allowedValues: unknown[] }).allowedValues.map(String).join(', ')}`
      : e.keyword === 'additionalProperties'
        ? ` '${(e.params as { additionalProperty: string }).additionalProperty}'`
        : '';
  return `at ${where}: ${e.message ?? 'is invalid'}${detail}`;
}

let compiled: ValidateFunction | null = null;

/** Compiled on first use: only `apply FILE` pays for ajv, never plan's hot path. */
function planValidator(): ValidateFunction {
  if (compiled) return compiled;
  // ajv is CommonJS; require() gives its class without ESM default-interop guesswork.
  const Ajv2020 = createRequire(import.meta.url)('ajv/dist/2020.js') as { default: new (options: object) => { compile(schema: object): ValidateFunction } };
  const schema = JSON.parse(readFileSync(PLAN_SCHEMA_FILE, 'utf8')) as object;
  compiled = new Ajv2020.default({ allErrors: false, strict: false }).compile(schema);
  return compiled;
}
