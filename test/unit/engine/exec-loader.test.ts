// An exec loads secrets exactly as the runtime images' entrypoint does for the main process:
// the loader is the entrypoint's own text, and this test fails the moment the two differ.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXEC_ARGV0, RUN_COMMAND, SECRET_LOADER, USER_SHELL, execArgv } from '../../../src/engine/exec-loader.js';

const ENTRYPOINT = join(import.meta.dirname, '../../../images/entrypoint/sandboxshift-entrypoint');

/** The entrypoint's secret-loading part: from `set +x` to the line before it picks the command. */
function entrypointSecretPart(): string {
  const text = readFileSync(ENTRYPOINT, 'utf8');
  const start = text.indexOf('set +x\n');
  const end = text.indexOf('\n[ "$#" -gt 0 ]');
  expect(start, 'the entrypoint has a `set +x` line').toBeGreaterThan(0);
  expect(end, 'the entrypoint picks its command with `[ "$#" -gt 0 ] || ...`').toBeGreaterThan(start);
  return text.slice(start, end).replace(/\n*$/, '\n');
}

describe('the exec secret loader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-loader-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is the entrypoint text, character for character', () => {
    expect(SECRET_LOADER).toBe(entrypointSecretPart());
  });

  it('runs as sh -c with the command after $0, so the command gets "$@" untouched', () => {
    const argv = execArgv(['printf', '%s|', 'a b', '$HOME', '']);
    expect(argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(argv[2]).toBe(`${SECRET_LOADER}${RUN_COMMAND}`);
    expect(argv.slice(3)).toEqual([EXEC_ARGV0, 'printf', '%s|', 'a b', '$HOME', '']);
  });

  it('on a terminal, sizes the PTY before anything runs', () => {
    expect(execArgv(['sh'], { rows: 40, columns: 120 })[2]).toBe(`stty rows 40 cols 120 2>/dev/null || :\n${SECRET_LOADER}${RUN_COMMAND}`);
  });

  // dash is Debian's /bin/sh (the runtime images'); busybox's is the test image's; bash is any other's.
  it.each([['dash'], ['/bin/busybox', 'sh'], ['bash']])('runs a command that starts with - as that command, under %s: not found, 127, never an option of exec', (...shell) => {
    const run = (cmd: string[]) => {
      const script = execArgv(cmd)[2]!.replace('secrets_dir=/run/secrets', `secrets_dir='${join(dir, 'none')}'`);
      const r = spawnSync(shell[0]!, [...shell.slice(1), '-c', script, EXEC_ARGV0, ...cmd], { encoding: 'utf8' });
      if (r.error) throw new Error(`${shell[0]} is needed for this test (scripts/setup.sh installs busybox-static): ${r.error.message}`);
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    for (const cmd of [
      ['-i', 'echo', 'hi'],
      ['--json', 'true'],
      ['--', 'echo', 'hi'],
    ]) {
      const r = run(cmd);
      expect(r.code).toBe(127);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^${EXEC_ARGV0}: .*${cmd[0]}: not found\\n$`));
    }
    expect(run(['echo', '-n', 'hi'])).toEqual({ code: 0, stdout: 'hi', stderr: '' });
  });

  it('exports each secret file as a variable, one trailing newline dropped, and never prints a value', () => {
    const secrets = join(dir, 'secrets');
    execFileSync('mkdir', ['-p', secrets]);
    writeFileSync(join(secrets, 'api_key'), 'v4lue-one\n');
    writeFileSync(join(secrets, 'two-lines'), 'a\nb\n\n');
    writeFileSync(join(secrets, '9lives'), 'nope');
    writeFileSync(join(secrets, '.hidden'), 'nope');
    // The same text, pointed at a folder of ours instead of /run/secrets.
    const script = execArgv([])[2]!.replace('secrets_dir=/run/secrets', `secrets_dir='${secrets}'`);
    expect(script).not.toBe(execArgv([])[2]);
    const out = execFileSync('/bin/sh', ['-c', script, EXEC_ARGV0, '/bin/sh', '-c', 'printf "%s|%s|%s" "$API_KEY" "$TWO_LINES" "${_9LIVES-unset}"'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toBe('v4lue-one|a\nb\n|unset');
  });

  it('warns about a file it cannot export by name, not by value, and still runs the command', () => {
    const secrets = join(dir, 'warn');
    execFileSync('mkdir', ['-p', secrets]);
    writeFileSync(join(secrets, '1password'), 'v4lue-two');
    const script = execArgv([])[2]!.replace('secrets_dir=/run/secrets', `secrets_dir='${secrets}'`);
    const both = execFileSync('/bin/sh', ['-c', `exec 2>&1; ${script}`, EXEC_ARGV0, 'echo', 'ran'], { encoding: 'utf8' });
    expect(both).toBe(`sandboxshift-entrypoint: not exporting ${secrets}/1password: 1PASSWORD does not make a variable name (it starts with a digit)\nran\n`);
  });

  it('opens the shell /etc/passwd gives the user, or /bin/sh', () => {
    expect(USER_SHELL.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(USER_SHELL[2]).toContain('/etc/passwd');
    expect(USER_SHELL[2]).toMatch(/exec "\$shell"$/);
  });
});
