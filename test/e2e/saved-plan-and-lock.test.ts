// Saved plans apply exactly or not at all; one apply at a time per project and engine.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/engine/lock.js';
import { CLI, containerOf, containerState, docker, dockerCli, testProject, type RunResult, type TestProject, busyboxConfig } from './harness.js';

const config = (role: string) => `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
defaults:
  image: busybox
  resources: { cpus: 0.25, memory: 32m, pids: 32 }
environments:
  one: { env: { ROLE: ${role} } }
  two: {}
  three: {}
`;

describe('saved plans', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('saved', config('a'));
  });
  afterAll(async () => p.cleanup());

  it('applies a fresh saved plan exactly, without asking', async () => {
    const planned = await p.run(['plan', '--out', 'tfplan.json']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stderr).toContain('Saved the plan to tfplan.json');
    const saved = JSON.parse(readFileSync(join(p.dir, 'tfplan.json'), 'utf8'));
    expect(saved.format_version).toBe('1.0');
    expect(saved.summary).toEqual({ build: 0, add: 3, change: 0, destroy: 0 });
    const r = await p.run(['apply', 'tfplan.json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Apply complete! Resources: 3 added, 0 changed, 0 destroyed.');
  });

  it('refuses --target, --refresh or a second argument with a saved plan, rather than ignoring them', async () => {
    expect((await p.run(['plan', '--out', 'flags.plan'])).code).toBe(0);
    expect(await p.run(['apply', 'flags.plan', '--target', 'two', '--refresh=full'])).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: apply flags.plan: --target and --refresh cannot change a saved plan\n  hint: make the plan with them (sandboxshift plan --target … --refresh … --out FILE), or apply without a plan file\n',
    });
    expect(await p.run(['apply', 'flags.plan', 'two'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: apply: unexpected argument 'two'\n  hint: apply takes at most one saved plan file: sandboxshift apply [PLANFILE]\n",
    });
  });

  it('refuses a saved plan when the config changed since', async () => {
    const planned = await p.run(['plan', '--out', 'stale.json']);
    expect(planned.code).toBe(0);
    p.write(config('b'));
    const r = await p.run(['apply', 'stale.json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('saved plan stale.json is stale and was not applied: the config file changed since the plan was saved');
    expect(r.stderr).toContain('hint: review a new one: sandboxshift plan --out stale.json');
    expect(r.stdout).not.toContain('Creating');
  });

  it('refuses a saved plan when the engine changed since, and touches nothing', async () => {
    const planned = await p.run(['plan', '--out', 'drift.json']);
    expect(planned.stdout).toContain('-/+ environment.one must be replaced');
    const oneBefore = (await docker.getContainer(containerOf(p.name, 'one')).inspect()).Id;
    await dockerCli(['stop', '-t', '1', containerOf(p.name, 'two')]);
    const r = await p.run(['apply', 'drift.json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the live state on the engine changed since the plan was saved');
    expect((await docker.getContainer(containerOf(p.name, 'one')).inspect()).Id).toBe(oneBefore);
    expect(await containerState(p.name, 'two')).toBe('exited');
  });

  it('refuses a file that is not a plan with a clear message', async () => {
    const r = await p.run(['apply', 'sandboxshift.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('sandboxshift.yaml is not a saved plan (not JSON)');
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- plan JSON read back and edited by hand
  const editSaved = (from: string, to: string, change: (json: Record<string, any>) => void) => {
    const json = JSON.parse(readFileSync(join(p.dir, from), 'utf8'));
    change(json);
    writeFileSync(join(p.dir, to), JSON.stringify(json, null, 2));
  };

  it('calls a saved plan edited by hand tampered, not stale, and touches nothing', async () => {
    const planned = await p.run(['plan', '--out', 'fresh.json']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain('> environment.two will be started');
    editSaved('fresh.json', 'edited.json', (j) => {
      const two = j.resource_changes.find((c: { address: string }) => c.address === 'environment.two');
      two.change.actions = ['delete'];
    });
    const r = await p.run(['apply', 'edited.json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('saved plan edited.json is tampered: it was edited after it was saved');
    expect(r.stderr).not.toContain('stale');
    expect(r.stderr).toContain('hint: make a new one with `sandboxshift plan --out FILE` and review it');
    expect(await containerState(p.name, 'two')).toBe('exited');
  });

  it('refuses a saved plan that breaks the schema, naming the first error', async () => {
    editSaved('fresh.json', 'invalid.json', (j) => {
      j.resource_changes[0].steps = ['format-disk'];
    });
    const r = await p.run(['apply', 'invalid.json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('invalid.json is not a valid saved plan: at /resource_changes/0/steps/0: must be equal to one of the allowed values: remove-container, create-container');
    expect(await containerState(p.name, 'two')).toBe('exited');
    // The untouched file still applies.
    const ok = await p.run(['apply', 'fresh.json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await containerState(p.name, 'two')).toBe('running');
  });
});

describe('plan --out', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('planout', config('a'));
  });
  afterAll(async () => p.cleanup());

  /** A refused --out: exit 1, the exact error and hint, no trace, no misreported engine, nothing planned. */
  const refused = async (out: string, error: string, hint: string) => {
    const r = await p.run(['plan', '--out', out]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe(`error: ${error}\n  hint: ${hint}\n`);
    expect(r.stdout).toBe('');
  };
  const mode = (name: string) => statSync(join(p.dir, name)).mode & 0o777;
  /** No temporary file left next to the plans. */
  const leftovers = () => readdirSync(p.dir).filter((n) => n.startsWith('.sandboxshift-plan-'));

  it('refuses a folder, a device, a FIFO, a missing folder and an empty name, each with its path and reason', async () => {
    mkdirSync(join(p.dir, 'plans'));
    await refused('plans', 'cannot save the plan to plans: it is a folder', 'name a file in it, e.g. --out plans/tfplan.json, or choose another file name');
    await refused('plans/', 'cannot save the plan to plans/: it names a folder, not a file', 'name a file in it, e.g. --out plans/tfplan.json');
    await refused('/dev/full', 'cannot save the plan to /dev/full: it is a character device, not a regular file', 'choose another file name for --out');
    execFileSync('mkfifo', [join(p.dir, 'pipe')]);
    await refused('pipe', 'cannot save the plan to pipe: it is a FIFO (named pipe), not a regular file', 'choose another file name for --out');
    await refused('/nonexist/x.plan', 'cannot save the plan to /nonexist/x.plan: folder /nonexist does not exist (ENOENT)', 'choose another file name for --out');
    await refused('', '--out needs a file name; it was given an empty one', 'sandboxshift plan --out tfplan.json');
    expect(readdirSync(join(p.dir, 'plans'))).toEqual([]);
    expect(lstatSync(join(p.dir, 'pipe')).isFIFO()).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('names the path and why when the write itself fails after planning, never the engine', async () => {
    // sysfs: the folder is there, but no file can be made in it (not even by root).
    const r = await p.run(['plan', '--out', '/sys/x.plan']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('Plan: 3 to add, 0 to change, 0 to destroy.');
    expect(r.stderr).toMatch(
      /^error: cannot save the plan to \/sys\/x\.plan: (permission denied in folder \/sys|\/sys is on a read-only file system) \((EACCES|EPERM|EROFS)\)\n {2}hint: choose another file name for --out\n$/,
    );
    expect(readdirSync('/sys').filter((n) => n.startsWith('.sandboxshift-plan-'))).toEqual([]);
  });

  it('never replaces the config or any other file that is not a saved plan', async () => {
    const configText = readFileSync(p.file, 'utf8');
    await refused(
      'sandboxshift.yaml',
      'cannot save the plan to sandboxshift.yaml: it exists and is not a saved plan (sandboxshift replaces only a plan it saved)',
      'choose another file name for --out, or remove sandboxshift.yaml first if it is not needed',
    );
    expect(readFileSync(p.file, 'utf8')).toBe(configText);
    // JSON, even with a format_version, is not enough: a status --json output stays.
    writeFileSync(join(p.dir, 'status.json'), '{ "format_version": "1.0", "environments": [] }\n');
    await refused(
      'status.json',
      'cannot save the plan to status.json: it exists and is not a saved plan (sandboxshift replaces only a plan it saved)',
      'choose another file name for --out, or remove status.json first if it is not needed',
    );
    expect(readFileSync(join(p.dir, 'status.json'), 'utf8')).toBe('{ "format_version": "1.0", "environments": [] }\n');
  });

  it('replaces a symlink instead of writing through it', async () => {
    writeFileSync(join(p.dir, 'important.txt'), 'keep me\n');
    symlinkSync('important.txt', join(p.dir, 'linked.plan'));
    const r = await p.run(['plan', '--out', 'linked.plan']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Saved the plan to linked.plan.');
    expect(readFileSync(join(p.dir, 'important.txt'), 'utf8')).toBe('keep me\n');
    expect(lstatSync(join(p.dir, 'linked.plan')).isFile()).toBe(true);
    expect(mode('linked.plan')).toBe(0o600);
    expect(JSON.parse(readFileSync(join(p.dir, 'linked.plan'), 'utf8')).format_version).toBe('1.0');
  });

  it('replaces an earlier saved plan, always as mode 0600, and it applies', async () => {
    const first = await p.run(['plan', '--out', 'tfplan.json']);
    expect(first.code, first.stderr).toBe(0);
    expect(mode('tfplan.json')).toBe(0o600);
    chmodSync(join(p.dir, 'tfplan.json'), 0o666);
    const again = await p.run(['plan', '--out', 'tfplan.json']);
    expect(again.code, again.stderr).toBe(0);
    expect(mode('tfplan.json')).toBe(0o600);
    expect(leftovers()).toEqual([]);
    const applied = await p.run(['apply', 'tfplan.json']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('Apply complete! Resources: 3 added, 0 changed, 0 destroyed.');
  });
});

describe('the apply lock', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('lock', config('a'));
  });
  afterAll(async () => p.cleanup());

  it('refuses an apply while another run holds the lock, naming the holder; unlock ID frees it', async () => {
    const held = await acquireLock(docker, p.name, 'apply (other runner)');
    try {
      const r = await p.run(['apply', '--auto-approve']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`project '${p.name}' is locked: another apply is running on this engine`);
      expect(r.stderr).toContain(`pid ${process.pid} (apply (other runner))`);
      expect(r.stderr).toContain(`sandboxshift unlock ${held.info.id}`);
      expect(await containerState(p.name, 'one')).toBeNull();
      const wrong = await p.run(['unlock', 'deadbeef']);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain(`is locked with ID ${held.info.id}, not deadbeef; left as it is`);
      const unlocked = await p.run(['unlock', held.info.id]);
      expect(unlocked.code, unlocked.stderr).toBe(0);
      expect(unlocked.stdout).toContain(`Lock ${held.info.id} of project '${p.name}' removed.`);
    } finally {
      await held.release();
    }
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('never interleaves two applies started together', async () => {
    p.write(config('b'));
    const [a, b] = await Promise.all([p.run(['apply', '--auto-approve']), p.run(['apply', '--auto-approve'])]);
    const outcomes = [a, b].map((r) => (r.code === 0 ? 'ok' : r.stderr.includes('is locked') ? 'locked' : `error: ${r.stderr}`));
    expect(outcomes.filter((o) => o.startsWith('error'))).toEqual([]);
    expect(outcomes).toContain('ok');
    const again = await p.run(['plan', '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
    const locks = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=lock'] } });
    expect(locks).toEqual([]);
  });

  it('asks for approval, and without a terminal refuses instead of guessing', async () => {
    p.write(config('c'));
    const r = await p.run(['apply']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('this needs approval, but there is no terminal to ask on');
    expect(r.stderr).toContain('--auto-approve');
    const again = await p.run(['plan', '--detailed-exitcode']);
    expect(again.code).toBe(2);
  });
});

/** Runs apply in the background and sends `signal` once the first change has started. */
function applyStoppedBy(dir: string, signal: NodeJS.Signals): Promise<RunResult & { signalled: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'apply', '--auto-approve', '--parallelism', '1'], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!signalled && stdout.includes('Creating...')) {
        signalled = true;
        child.kill(signal);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, signalled }));
  });
}

describe('a signal during apply', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject(
      'signal',
      busyboxConfig(`  e1: {}
  e2: {}
  e3: {}
  e4: {}
  e5: {}
  e6: {}
`),
    );
  });
  afterAll(async () => p.cleanup());

  const locks = () => docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=lock'] } });

  it.each([
    ['SIGTERM', 143, 'Terminated (SIGTERM): releasing the lock'],
    ['SIGINT', 130, 'Interrupted: releasing the lock'],
  ] as const)('%s gives the lock back and exits %i; the next apply finishes the work', async (signal, code, line) => {
    const r = await applyStoppedBy(p.dir, signal);
    expect(r.signalled, r.stdout + r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toContain(`${line}; run \`sandboxshift plan\` to see what is left.`);
    expect(r.stdout).not.toContain('Apply complete!');
    expect(await locks()).toEqual([]);
    const again = await p.run(['apply', '--auto-approve']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('Apply complete!');
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
    // Back to nothing for the next signal.
    const down = await p.run(['destroy', '--auto-approve']);
    expect(down.code, down.stderr).toBe(0);
  });
});
