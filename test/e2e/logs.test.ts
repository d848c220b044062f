// `logs`: an environment's stdout and stderr as written, without the engine's stream framing.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testProject, type TestProject } from './harness.js';

describe('logs', () => {
  let p: TestProject;
  beforeAll(async () => {
    p = testProject(
      'logs',
      `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  box: { image: busybox, command: [sh, -c, 'echo to-stdout; sleep 1; echo to-stderr >&2; sleep 1; echo to-stdout-again; exec sleep 3600'] }
`,
    );
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
  afterAll(async () => p.cleanup());

  it('prints stdout and stderr in order, with no frame headers', async () => {
    // The command may still be writing just after apply returns. (The engine keeps the order of
    // lines a second apart; it reads stdout and stderr separately, so not of lines written at once.)
    await vi.waitFor(
      async () => {
        const r = await p.run(['logs', 'box']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe('to-stdout\nto-stderr\nto-stdout-again\n');
      },
      { timeout: 20_000, interval: 500 },
    );
  });

  it('--tail keeps the last lines', async () => {
    const r = await p.run(['logs', 'box', '--tail', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('to-stderr\nto-stdout-again\n');
  });
});
