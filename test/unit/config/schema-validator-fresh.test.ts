import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateValidatorSource, OUTPUT_FILE } from '../../../scripts/compile-schema.mjs';

describe('generated schema validator', () => {
  it('matches schemas/sandboxshift.schema.json', () => {
    const committed = readFileSync(OUTPUT_FILE, 'utf8');
    const fresh = generateValidatorSource();
    // Not toEqual on the strings: the file is ~100 kB on a few lines, and its diff would drown the advice.
    expect(committed === fresh, 'src/config/generated/schema-validator.js is out of date with schemas/sandboxshift.schema.json: run `node scripts/compile-schema.mjs` and commit the result').toBe(
      true,
    );
  });
});
