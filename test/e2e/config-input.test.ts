// Bad input in or as the config file, through the built CLI: it always ends promptly in an error
// that says what to do, never a hang, a crash or silently changed data. A FIFO as the config hung
// every command (plan, status, exec, cp...), `-c /dev/zero` ate memory until std::bad_alloc
// (exit 134), bytes that are not UTF-8 reached the container as U+FFFD, colliding secret names
// silently overwrote each other's variable, and a 256-character secret name got as far as
// apply's copy-secrets step. Each run here is killed after a deadline, so a hang fails the test.
import { execFileSync, spawn } from 'node:child_process';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxConfig, CLI, containerOf, containerState, execIn, testProject, type RunResult, type TestProject } from './harness.js';

/** Killed after this long: every refusal here comes in well under a second or two. */
const DEADLINE_MS = 20_000;

/** The CLI run with a deadline (SIGKILL), with `env` set as raw bytes when given as Buffers. */
function runBounded(p: TestProject, args: string[], rawEnv: Record<string, Buffer> = {}): Promise<RunResult & { timedOut: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    // Node cannot pass bytes that are not UTF-8 in an environment; a shell's printf can.
    const exports = Object.entries(rawEnv).map(([k, v]) => `${k}="$(printf '${[...v].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('')}')"; export ${k}; `);
    const child = spawn('/bin/sh', ['-c', `${exports.join('')}exec "$0" "$@"`, process.execPath, CLI, ...args], {
      cwd: p.dir,
      env: { ...process.env, NO_COLOR: '1', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, DEADLINE_MS);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, timedOut, ms: Date.now() - started });
    });
  });
}

const config = busyboxConfig('  one: {}\n');

describe('the config file must be a regular file of at most 16 MiB', () => {
  let p: TestProject;
  let fifo: string;
  beforeAll(async () => {
    p = testProject('cfgfile', config);
    fifo = join(p.dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    // A running environment and a warm config cache: exec and cp would take their short paths.
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => p.cleanup());

  const commands: string[][] = [
    ['validate', '-c', 'FILE'],
    ['plan', '-c', 'FILE'],
    ['plan', '--json', '-c', 'FILE'],
    ['status', '-c', 'FILE'],
    ['apply', '--auto-approve', '-c', 'FILE'],
    ['destroy', '--auto-approve', '-c', 'FILE'],
    ['exec', '-c', 'FILE', 'one', 'true'],
    ['cp', '-c', 'FILE', 'one:/etc/hostname', 'copied'],
  ];

  for (const args of commands) {
    it(`${args.slice(0, 2).join(' ')}: a FIFO is refused at once, not waited on`, async () => {
      const r = await runBounded(
        p,
        args.map((a) => (a === 'FILE' ? 'fifo.yaml' : a)),
      );
      expect(r.timedOut, 'the command hung on the FIFO').toBe(false);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        "fifo.yaml: error: config file 'fifo.yaml' is a named pipe (FIFO), not a regular file; the config is read from a regular file of at most 16 MiB\n  hint: pass --config with the path of a sandboxshift.yaml file (a symlink to one is fine)",
      );
      expect(r.stderr).not.toContain('internal error');
    });
  }

  for (const command of [['validate'], ['plan'], ['apply', '--auto-approve']]) {
    it(`${command[0]} -c /dev/zero: refused before a byte is read, no memory eaten`, async () => {
      const r = await runBounded(p, [...command, '-c', '/dev/zero']);
      expect(r.timedOut, 'the command kept reading /dev/zero').toBe(false);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("/dev/zero: error: config file '/dev/zero' is a device, not a regular file; the config is read from a regular file of at most 16 MiB");
    });
  }

  it('a regular file over 16 MiB is refused with the limit, by plan too', async () => {
    const big = join(p.dir, 'big.yaml');
    writeFileSync(big, '');
    truncateSync(big, 17 * 1024 * 1024);
    for (const command of [['validate'], ['plan']]) {
      const r = await runBounded(p, [...command, '-c', 'big.yaml']);
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        "big.yaml: error: config file 'big.yaml' is larger than 16 MiB (17825792 bytes), the limit for a config file\n  hint: a sandboxshift.yaml of 1,000 environments is well under 1 MiB: check that --config names the right file",
      );
    }
    // None of the refusals above touched the environment.
    expect(await containerState(p.name, 'one')).toBe('running');
  });
});

describe('bytes that are not UTF-8', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('cfgutf8', config);
  });
  afterAll(async () => p.cleanup());

  it('in the config: validate, plan and apply say where, and nothing is created', async () => {
    writeFileSync(
      p.file,
      Buffer.concat([Buffer.from(config.replaceAll('{{project}}', p.name).replace('  one: {}\n', '  one:\n    env: { X: "')), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from('" }\n')]),
    );
    for (const command of [['validate'], ['plan'], ['apply', '--auto-approve']]) {
      const r = await runBounded(p, command);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^sandboxshift\.yaml:11:16: error: the config file must be UTF-8: invalid byte 0xff at byte offset \d+\n {2}hint: save it as UTF-8/m);
    }
    expect(await containerState(p.name, 'one')).toBeNull();
  });

  it('in a fromEnv secret: plan refuses it without printing it, and points at fromFile', async () => {
    p.write(`${config.replace('  one: {}\n', '  one:\n')}    secrets:\n      token: { fromEnv: TOKEN }\n`);
    const r = await runBounded(p, ['plan'], { TOKEN: Buffer.from([0x74, 0x6f, 0x6b, 0x33, 0x6e, 0xff, 0xfe]) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "error: secret 'token' of environment 'one': environment variable TOKEN is not valid UTF-8 (it holds U+FFFD, which stands in for bytes that could not be decoded, so the value as set is lost) (at environments.one.secrets.token)\n  hint: a binary value cannot come through a variable: write it to a file and use fromFile: PATH instead (the value is never printed)",
    );
    expect(r.stderr + r.stdout).not.toContain('tok3n');
    const fine = await runBounded(p, ['apply', '--auto-approve'], { TOKEN: Buffer.from('tok3n\u00e9') });
    expect(fine.code, fine.stderr).toBe(0);
    expect(await execIn(containerOf(p.name, 'one'), ['sh', '-c', 'od -An -tx1 /run/secrets/token'])).toBe(' 74 6f 6b 33 6e c3 a9\n');
  });
});

describe('secret names', () => {
  let p: TestProject;
  const withSecrets = (...names: string[]) => `${config.replace('  one: {}\n', '  one:\n')}    secrets:\n${names.map((n) => `      ${n}: { fromEnv: HOME }\n`).join('')}`;
  beforeAll(() => {
    p = testProject('secretnames', withSecrets('a.b', 'a-b', 'a_b'));
  });
  afterAll(async () => p.cleanup());

  it('that would be one variable are refused by validate and apply, and nothing is created', async () => {
    for (const command of [['validate'], ['apply', '--auto-approve']]) {
      const r = await runBounded(p, command);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        "sandboxshift.yaml:13:7: error: secrets 'a.b', 'a-b' and 'a_b' would all be the variable A_B in environment 'one': one would silently replace the others (at environments.one.secrets.a-b)",
      );
    }
    expect(await containerState(p.name, 'one')).toBeNull();
  });

  it('of 256 characters are refused at validate, not half-way through apply; 255, the limit, are applied', async () => {
    const name = 'n'.repeat(256);
    p.write(withSecrets(name));
    for (const command of [['validate'], ['apply', '--auto-approve']]) {
      const r = await runBounded(p, command);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`sandboxshift.yaml:12:7: error: secret name '${name}' is longer than 255 characters (256)`);
      expect(r.stderr).toContain('hint: shorten it: the secret becomes the file /run/secrets/NAME, and Linux allows no file name longer than 255 bytes');
    }
    expect(await containerState(p.name, 'one')).toBeNull();
    const longest = 'm'.repeat(255);
    p.write(withSecrets(longest, 'a.b'));
    const r = await runBounded(p, ['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect((await execIn(containerOf(p.name, 'one'), ['ls', '/run/secrets'])).split('\n').sort()).toEqual(['', 'a.b', longest]);
  });
});
