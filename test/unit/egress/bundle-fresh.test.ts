import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateEgressBundle, OUTPUT_FILE } from '../../../scripts/bundle-egress.mjs';

describe('bundled egress proxy', () => {
  it('matches src/egress', async () => {
    const committed = readFileSync(OUTPUT_FILE, 'utf8');
    const fresh = await generateEgressBundle();
    // Not toEqual on the strings: the diff of a 1,000-line bundle would drown the advice.
    expect(committed === fresh, 'images/egress-proxy/proxy.js is out of date with src/egress: run `node scripts/bundle-egress.mjs` and commit the result').toBe(true);
  });
});
