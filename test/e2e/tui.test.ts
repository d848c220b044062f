// The TUI on a real terminal (tmux), the plain output everywhere else, and that commands which
// never show the TUI never load Ink or React.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLock } from '../../src/engine/index.js';
import { CLI, containerState, docker, runCli, testProject, type TestProject } from './harness.js';
import { inTerminal } from './terminal.js';

const RECORDER = fileURLToPath(new URL('../support/record-imports.mjs', import.meta.url));

/** A pipe for stdin and stdout and no CI variable: only the missing terminal says "plain". */
const NO_TERMINAL = { env: { CI: undefined, CONTINUOUS_INTEGRATION: undefined, TERM: 'xterm-256color' } };

/** The busybox project of approval.test.ts. */
const PROJECT = `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  solo: { image: busybox, resources: { cpus: 0.25, memory: 32m, pids: 32 } }
`;

describe('the TUI on a terminal', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('tui', PROJECT);
  });
  afterAll(async () => p.cleanup());

  it('without a terminal, plan prints the plain text plan, byte for byte as in CI', async () => {
    const r = await runCli(['plan'], p.dir, NO_TERMINAL);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`SandboxShift plan for project "${p.name}"

Symbols: + create, ~ update in place, > start, -/+ replace, - destroy

  + environment.solo will be created
      image:     sandboxshift/busybox:test
      runtime:   runc, user 65532:65532, network none
      resources: 0.25 cpu, 32 MiB, 32 pids
      egress:    none (no network)
      because:   new environment
      data:      none
      workspace: new volume ss.${p.name}.solo.workspace

Plan: 1 to add, 0 to change, 0 to destroy.
`);
    expect((await runCli(['plan'], p.dir)).stdout).toBe(r.stdout);
    const apply = await runCli(['apply'], p.dir, NO_TERMINAL);
    expect(apply.code).toBe(1);
    expect(apply.stdout).toBe(r.stdout);
    expect(apply.stderr).toContain('this needs approval, but there is no terminal to ask on');
  });

  it('plan shows every change with its details open, and asks nothing', async () => {
    const t = await inTerminal(['plan'], p.dir);
    try {
      const screen = await t.waitFor('[exit 0]');
      expect(screen).toContain('  + environment.solo will be created');
      // Only the TUI lists the steps: this is not the plain plan.
      expect(screen).toContain('      steps:     create-container, start');
      expect(screen).toContain('Plan: 1 to add, 0 to change, 0 to destroy.');
      expect(screen).not.toContain('y approve');
    } finally {
      await t.close();
    }
  });

  it('apply: n rejects and nothing is created', async () => {
    const t = await inTerminal(['apply'], p.dir);
    try {
      const asking = await t.waitFor('y approve · n/q reject');
      expect(asking).toContain('Do you want to perform these actions?');
      expect(asking).toContain('❯ ▸   + environment.solo will be created');
      expect(asking).toContain('          data:      none');
      await t.keys('n');
      const screen = await t.waitFor('[exit 1]');
      expect(screen).toContain('  Rejected.');
      expect(screen).toContain('Apply cancelled; nothing was changed.');
      expect(await containerState(p.name, 'solo')).toBeNull();
    } finally {
      await t.close();
    }
  });

  it('apply: details open with enter; y approves, then progress and the summary; the container exists only after', async () => {
    const t = await inTerminal(['apply'], p.dir);
    try {
      await t.waitFor('y approve · n/q reject');
      await t.keys('Enter');
      await t.waitFor(`workspace: new volume ss.${p.name}.solo.workspace`);
      expect(await containerState(p.name, 'solo')).toBeNull();
      await t.keys('y');
      const screen = await t.waitFor('[exit 0]');
      expect(screen).toContain('  Approved.');
      expect(screen).toMatch(/✓ environment\.solo: Creation complete after \d+\.\ds \[id=[0-9a-f]{12}\]/);
      expect(screen).toContain('Apply complete! Resources: 1 added, 0 changed, 0 destroyed.');
      expect(await containerState(p.name, 'solo')).toBe('running');
    } finally {
      await t.close();
    }
  });

  it('--no-tui on a terminal: the plain plan and the yes prompt', async () => {
    const t = await inTerminal(['destroy', '--no-tui'], p.dir);
    try {
      const asking = await t.waitFor('Enter a value:');
      expect(asking).toContain('  - environment.solo will be destroyed');
      expect(asking).toContain("Only 'yes' will be accepted to approve.");
      expect(asking).not.toContain('y approve');
      await t.keys('y', 'Enter');
      const screen = await t.waitFor('[exit 1]');
      expect(screen).toContain('Destroy cancelled; nothing was changed.');
      expect(await containerState(p.name, 'solo')).toBe('running');
    } finally {
      await t.close();
    }
  });
});

describe('Ctrl-C during a TUI apply', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject(
      'tuiint',
      `
version: 1
project: {{project}}
images:
  slow: { build: { context: ./ctx } }
environments:
  solo: { image: slow, resources: { cpus: 0.25, memory: 32m, pids: 32 } }
`,
    );
    mkdirSync(join(p.dir, 'ctx'));
    writeFileSync(join(p.dir, 'ctx/Dockerfile'), 'FROM sandboxshift/busybox:test\nRUN echo slow-step-marker && sleep 60\n');
  });
  afterAll(async () => {
    await p.cleanup();
    const images = await docker.listImages({ filters: { label: [`io.sandboxshift.project=${p.name}`] } });
    for (const i of images) await docker.getImage(i.Id).remove({ force: true });
  });

  it('shows the build step while it runs; Ctrl-C (raw mode: a key, not a signal) still gives the lock back', async () => {
    const t = await inTerminal(['apply', '--auto-approve'], p.dir);
    try {
      const running = await t.waitFor('RUN echo slow-step-marker && sleep 60');
      expect(running).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] image\.slow: Building\.\.\. \d+\.\ds \(build-image\)$/m);
      expect(running).toContain('· 1 waiting: environment.solo');
      expect(await readLock(docker, p.name)).not.toBeNull();
      await t.keys('C-c');
      // Exit code 130 and the lock given back are the promise. (The "Interrupted" line goes to
      // stderr while Ink may still repaint its frame over it, so the pane does not always keep it.)
      await t.waitFor('[exit 130]');
      expect(await readLock(docker, p.name)).toBeNull();
      expect(await containerState(p.name, 'solo')).toBeNull();
    } finally {
      await t.close();
    }
  });
});

describe('commands without the TUI never load Ink or React', () => {
  let p: TestProject;
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'ss-imports-'));
    p = testProject('imports', PROJECT);
  });
  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await p.cleanup();
  });

  /** Every module URL the command resolved, recorded by a resolve hook preloaded with --import. */
  async function modulesLoadedBy(args: string[]): Promise<string[]> {
    const file = join(work, `${randomBytes(4).toString('hex')}.txt`);
    const r = await runCli(args, p.dir, { env: { NODE_OPTIONS: `--import=${pathToFileURL(RECORDER).href}`, SS_RECORD_IMPORTS: file } });
    expect(r.code, r.stderr).toBe(0);
    return readFileSync(file, 'utf8').trim().split('\n');
  }
  const uiModules = (urls: string[]) => urls.filter((u) => /\/node_modules\/(ink|react|react-reconciler)\/|\/dist\/render\/ink\//.test(u));

  it('the recorder sees Ink when it is loaded', async () => {
    const file = join(work, 'control.txt');
    await promisify(execFile)(process.execPath, ['--import', pathToFileURL(RECORDER).href, join(CLI, '../../render/ink/index.js')], { env: { ...process.env, SS_RECORD_IMPORTS: file } });
    const urls = readFileSync(file, 'utf8').trim().split('\n');
    expect(urls.some((u) => u.includes('/node_modules/ink/'))).toBe(true);
    expect(urls.some((u) => u.includes('/node_modules/react/'))).toBe(true);
  });

  it.each([[['--version']], [['validate']], [['plan', '--json']]])('%j', async (args) => {
    const urls = await modulesLoadedBy(args);
    expect(urls.some((u) => u.endsWith('/dist/cli/main.js'))).toBe(true);
    expect(uiModules(urls)).toEqual([]);
    // ajv's compiler is for reading saved plans back (apply FILE), never for planning.
    expect(urls.filter((u) => /\/node_modules\/ajv\/dist\/(2020|ajv|core)\.js$|\/node_modules\/ajv\/dist\/compile\//.test(u))).toEqual([]);
  });
});
