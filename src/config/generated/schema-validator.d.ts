// Types for schema-validator.js, the validator scripts/compile-schema.mjs generates from
// schemas/sandboxshift.schema.json with ajv's standalone code (written by hand, not generated).

import type { ErrorObject } from 'ajv';

export interface SchemaValidateFunction {
  (data: unknown): boolean;
  /** The violations found by the last call; null or absent when it passed. */
  errors?: ErrorObject[] | null;
}

export declare const validate: SchemaValidateFunction;
export default validate;
