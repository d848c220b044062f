// The JSON Schema is the single description of the file's shape: editors read it for completion and
// help, and we validate against the same file so the two can never disagree.
//
// The validator is compiled from the schema ahead of time (scripts/compile-schema.mjs writes
// ./generated/schema-validator.js; a unit test fails when it is out of date), so start-up neither
// loads ajv's compiler nor generates code.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import validate from './generated/schema-validator.js';

/** Two folders up from both src/config/ and dist/config/; package.json ships `schemas/`. */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schemas/sandboxshift.schema.json', import.meta.url));

export function loadSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
}

/** Every schema violation in `data` (empty when it conforms). */
export function schemaErrors(data: unknown): ErrorObject[] {
  return validate(data) ? [] : [...(validate.errors ?? [])];
}
