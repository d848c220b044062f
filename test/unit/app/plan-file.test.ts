// Saved plan files: read back exactly as written, or refused as not a plan, schema-invalid,
// unchecked, or tampered (edited after saving).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planChecksum, readPlanFile, writePlanFile } from '../../../src/app/plan-file.js';
import { DiagnosticsError } from '../../../src/diagnostics.js';
import { plan } from '../../../src/plan/index.js';
import { desiredOf, env, observedOf } from '../plan/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'ss-planfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const saved = plan(desiredOf([env('a'), env('b')]), observedOf([]));
const file = join(dir, 'plan.json');
writePlanFile(file, saved);
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- plan JSON read back and edited by hand
const edit = (name: string, change: (json: Record<string, any>) => void): string => {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  change(json);
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(json, null, 2));
  return path;
};
const refusal = (path: string): string => {
  try {
    readPlanFile(path);
  } catch (err) {
    if (err instanceof DiagnosticsError) return err.diagnostics.map((d) => `${d.message} | ${d.hint}`).join('\n');
    throw err;
  }
  throw new Error(`${path} was accepted`);
};

describe('saved plan files', () => {
  it('read back as the plan that was saved, with a checksum over the rest', () => {
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expect(json.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(json.checksum).toBe(planChecksum(json));
    expect(readPlanFile(file)).toEqual(saved);
  });

  it('keeps the checksum when only the layout changes (keys reordered, no indentation)', () => {
    const json = JSON.parse(readFileSync(file, 'utf8'));
    const path = join(dir, 'compact.json');
    writeFileSync(path, JSON.stringify(Object.fromEntries(Object.entries(json).reverse())));
    expect(readPlanFile(path)).toEqual(saved);
  });

  it('calls a hand-edited action tampered', () => {
    const path = edit('edited.json', (j) => {
      j.resource_changes[0].change.actions = ['delete'];
    });
    expect(refusal(path)).toBe(
      `saved plan ${path} is tampered: it was edited after it was saved (its checksum no longer matches its content), so it was not applied | make a new one with \`sandboxshift plan --out FILE\` and review it`,
    );
  });

  it('names the first schema error of an invalid file', () => {
    const path = edit('invalid.json', (j) => {
      j.resource_changes[1].kind = 'obliterate';
    });
    expect(refusal(path)).toBe(
      `${path} is not a valid saved plan: at /resource_changes/1/kind: must be equal to one of the allowed values: create, replace, update, start, delete, no-op | make a new one with \`sandboxshift plan --out FILE\` and review it`,
    );
    const extra = edit('extra.json', (j) => {
      j.approved_by = 'me';
    });
    expect(refusal(extra)).toContain("is not a valid saved plan: at (top level): must NOT have additional properties 'approved_by'");
  });

  it('refuses a step that does not belong to its type of change', () => {
    const path = edit('misfit.json', (j) => {
      j.resource_changes[0].type = 'network';
    });
    expect(refusal(path)).toContain(`${path} is not a valid saved plan: at /resource_changes/0/steps: 'create-container' is not a step of network changes`);
  });

  it('refuses a plan without a checksum (plan --json output)', () => {
    const path = edit('unchecked.json', (j) => {
      delete j.checksum;
    });
    expect(refusal(path)).toContain(`${path} has no checksum, so it cannot be told apart from a hand-edited file`);
  });
});
