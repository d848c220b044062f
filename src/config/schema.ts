// The JSON Schema is the single description of the file's shape: editors read it for completion and
// help, and we validate against the same file so the two can never disagree.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';

/** Two folders up from both src/config/ and dist/config/; package.json ships `schemas/`. */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schemas/sandboxshift.schema.json', import.meta.url));

let compiled: ValidateFunction | undefined;

export function loadSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
}

function validator(): ValidateFunction {
  if (compiled === undefined) {
    // ajv is CommonJS: under NodeNext the default import is the module object, and the class sits on `.default`.
    const Ajv = Ajv2020.default;
    // verbose: errors carry the failing data and schema, which the messages and suggestions need.
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
    compiled = ajv.compile(loadSchema());
  }
  return compiled;
}

/** Every schema violation in `data` (empty when it conforms). */
export function schemaErrors(data: unknown): ErrorObject[] {
  const validate = validator();
  return validate(data) ? [] : [...(validate.errors ?? [])];
}
