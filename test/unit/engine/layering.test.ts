// engine/ is the only code that talks to Docker, and it knows nothing of plans: facts it shares
// with the planner live in model/. A static check over the import lines.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ENGINE = join(import.meta.dirname, '../../../src/engine');

describe('engine layering', () => {
  it('no engine module imports from plan/, apply/, app/, cli/ or render/', () => {
    const offending = readdirSync(ENGINE)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(join(ENGINE, f), 'utf8').matchAll(/from '(\.\.\/(?:plan|apply|app|cli|render)\/[^']*)'/g)].map((m) => `${f}: ${m[1]}`));
    expect(offending).toEqual([]);
  });
});
