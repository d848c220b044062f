// The config file itself: a regular file (symlinks followed) of at most 16 MiB, and UTF-8. A
// device is refused before a byte is read, a byte that is not UTF-8 is an error at its line and
// column, never a silent U+FFFD. (A FIFO is in test/e2e/config-input.test.ts: before the fix it
// hung, which only a child process with a timeout can show.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { loadConfigAt } from '../../../src/config/revision.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';

const dir = mkdtempSync(join(tmpdir(), 'ss-config-file-'));
const VALID = 'version: 1\nproject: demo\nenvironments:\n  a: {image: busybox}\nimages:\n  busybox: {ref: "busybox:1"}\n';

function write(name: string, content: string | Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

const errors = (file: string) => loadConfig(file).diagnostics.map(formatDiagnostic);

describe('the kind and size of the config file', () => {
  it('a device is refused, saying what a config file must be', () => {
    expect(errors('/dev/null')).toEqual([
      "/dev/null: error: config file '/dev/null' is a device, not a regular file; the config is read from a regular file of at most 16 MiB\n  hint: pass --config with the path of a sandboxshift.yaml file (a symlink to one is fine)",
    ]);
  });

  it('a socket is refused the same way', async () => {
    const socket = join(dir, 'sock.yaml');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    onTestFinished(() => void server.close());
    expect(errors(socket)).toEqual([
      `${socket}: error: config file '${socket}' is a socket, not a regular file; the config is read from a regular file of at most 16 MiB\n  hint: pass --config with the path of a sandboxshift.yaml file (a symlink to one is fine)`,
    ]);
  });

  it('a file over 16 MiB is refused with its size, without reading it; one of exactly 16 MiB is read, through a symlink too', () => {
    const file = write('big.yaml', '');
    truncateSync(file, 16 * 1024 * 1024 + 1);
    expect(errors(file)).toEqual([
      `${file}: error: config file '${file}' is larger than 16 MiB (16777217 bytes), the limit for a config file\n  hint: a sandboxshift.yaml of 1,000 environments is well under 1 MiB: check that --config names the right file`,
    ]);
    const atLimit = write('at-limit.yaml', VALID + '#'.repeat(16 * 1024 * 1024 - VALID.length));
    const link = join(dir, 'link.yaml');
    symlinkSync(atLimit, link);
    const { config, diagnostics } = loadConfig(link);
    expect(diagnostics).toEqual([]);
    expect(config?.project).toBe('demo');
  });
});

describe('the config file must be UTF-8', () => {
  const hint = '\n  hint: save it as UTF-8 (e.g. `iconv -f LATIN1 -t UTF-8`); binary data belongs in a secret read with fromFile, not in the config';
  const withEnvValue = (name: string, bytes: number[]) =>
    write(name, Buffer.concat([Buffer.from('version: 1\nproject: demo\nenvironments:\n  a:\n    env: {X: "h\u00e9'), Buffer.from(bytes), Buffer.from('"}\n')]));

  it('bytes ff fe 80 in a value are an error at their line and column, not U+FFFD in the container; U+FFFD itself, written as UTF-8, is fine', () => {
    const file = withEnvValue('ff.yaml', [0xff, 0xfe, 0x80]);
    // Line 5, after `    env: {X: "hé` (16 characters, é being one): column 17; byte offset 61 (é is two bytes).
    expect(errors(file)).toEqual([`${file}:5:17: error: the config file must be UTF-8: invalid byte 0xff at byte offset 61${hint}`]);
    const fine = withEnvValue('fffd.yaml', [...Buffer.from('\uFFFD \u{1F600}')]);
    const { config, diagnostics } = loadConfig(fine);
    expect(diagnostics).toEqual([]);
    expect(config?.environments.a?.env).toEqual({ X: 'h\u00e9\uFFFD \u{1F600}' });
  });

  it('a sequence cut short names the bytes it has', () => {
    const file = withEnvValue('cut.yaml', [0xe2, 0x82]);
    expect(errors(file)).toEqual([`${file}:5:17: error: the config file must be UTF-8: invalid bytes 0xe2 0x82 at byte offset 61${hint}`]);
  });

  it('overlong forms and encoded surrogates are not UTF-8 either', () => {
    const overlong = withEnvValue('overlong.yaml', [0xc0, 0xaf]);
    expect(errors(overlong)).toEqual([`${overlong}:5:17: error: the config file must be UTF-8: invalid byte 0xc0 at byte offset 61${hint}`]);
    const surrogate = withEnvValue('surrogate.yaml', [0xed, 0xa0, 0x80]);
    expect(errors(surrogate)).toEqual([`${surrogate}:5:17: error: the config file must be UTF-8: invalid byte 0xed at byte offset 61${hint}`]);
  });

  it('Latin-1 text on the first line; a byte order mark before valid text is still fine', () => {
    const file = write('latin1.yaml', Buffer.from('# caf\xe9\nversion: 1\n', 'latin1'));
    expect(errors(file)).toEqual([`${file}:1:6: error: the config file must be UTF-8: invalid byte 0xe9 at byte offset 5${hint}`]);
    expect(errors(write('bom.yaml', `\uFEFF${VALID}`))).toEqual([]);
  });

  it('so must the config as it is at a git commit (diff --from, watch --git)', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'ss-config-git-'));
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo });
    git('init', '-q');
    const file = join(repo, 'sandboxshift.yaml');
    writeFileSync(file, Buffer.concat([Buffer.from('version: 1\nproject: demo\nenvironments:\n  a: {env: {X: "'), Buffer.from([0xff]), Buffer.from('"}}\n')]));
    git('add', '.');
    git('commit', '-qm', 'latin1');
    writeFileSync(file, VALID);
    const at = await loadConfigAt(file, 'HEAD');
    expect(at.config).toBeUndefined();
    expect(at.diagnostics.map(formatDiagnostic)).toEqual([`HEAD:sandboxshift.yaml:4:17: error: the config file must be UTF-8: invalid byte 0xff at byte offset 55${hint}`]);
  });
});
