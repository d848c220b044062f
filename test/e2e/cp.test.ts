// sandboxshift cp against the real engine: files and folders both ways, owner and modes, a
// stopped container, runsc, and every refusal of the confinement promise with its exact text.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxConfig, CLI, containerOf, dockerCli, execIn, runListingModules, sh, testProject, type TestProject } from './harness.js';

const UID = '65532';

describe('cp', () => {
  let p: TestProject;
  let c: string;
  let host: string;
  beforeAll(async () => {
    p = testProject('cp', busyboxConfig('  dev: {}\n  gone: {}\n'));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    c = containerOf(p.name, 'dev');
    host = mkdtempSync(join(tmpdir(), 'ss-cp-host-'));
  }, 180_000);
  afterAll(async () => {
    await p.cleanup();
    rmSync(host, { recursive: true, force: true });
  });

  const cp = (...args: string[]) => p.run(['cp', ...args]);
  const inC = (script: string) => execIn(c, ['sh', '-c', script]);

  it('copies a file in (owned by the environment user, mode kept) and out (content and mode kept)', async () => {
    writeFileSync(join(host, 'f.txt'), 'hello\n');
    chmodSync(join(host, 'f.txt'), 0o640);
    const r = await cp(join(host, 'f.txt'), 'dev:');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('Successfully copied 1 file (6 B) to dev:\n');
    expect(await inC('stat -c "%u:%g %a" /workspace/f.txt; cat /workspace/f.txt')).toBe(`${UID}:${UID} 640\nhello\n`);

    const out = await cp('dev:f.txt', join(host, 'back.txt'), '--json');
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ format_version: '1.0', direction: 'out', source: 'dev:f.txt', destination: join(host, 'back.txt'), files: 1, bytes: 6 });
    expect(readFileSync(join(host, 'back.txt'), 'utf8')).toBe('hello\n');
    expect(statSync(join(host, 'back.txt')).mode & 0o777).toBe(0o640);
    expect(statSync(join(host, 'back.txt')).uid).toBe(process.getuid!());
  }, 60_000);

  it('copies a folder in and out by docker cp rules: into an existing folder it lands inside; SRC/. copies its contents', async () => {
    const src = join(host, 'proj');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(src, 'sub', 'run.sh'), 0o755);
    writeFileSync(join(src, 'a.txt'), 'A');
    symlinkSync('sub/run.sh', join(src, 'ln'));
    const r = await cp(src, 'dev:/workspace/', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ format_version: '1.0', direction: 'in', source: src, destination: 'dev:/workspace/', files: 3, bytes: 11 });
    expect(await inC('stat -c "%u %a %n" /workspace/proj /workspace/proj/sub/run.sh /workspace/proj/a.txt; readlink /workspace/proj/ln')).toBe(
      `${UID} 755 /workspace/proj\n${UID} 755 /workspace/proj/sub/run.sh\n${UID} 644 /workspace/proj/a.txt\nsub/run.sh\n`,
    );
    // Again into the now existing folder: it lands inside it.
    expect((await cp(src, 'dev:proj')).code).toBe(0);
    expect(await inC('ls /workspace/proj/proj')).toBe('a.txt\nln\nsub\n');
    // Contents only.
    expect((await cp(`${src}/.`, 'dev:flat')).code).toBe(0);
    expect(await inC('ls /workspace/flat')).toBe('a.txt\nln\nsub\n');

    const back = join(host, 'proj-back');
    const out = await cp('dev:proj', back);
    expect(out.code, out.stderr).toBe(0);
    expect(readFileSync(join(back, 'sub', 'run.sh'), 'utf8')).toBe('#!/bin/sh\n');
    expect(statSync(join(back, 'sub', 'run.sh')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(back, 'ln'))).toBe('sub/run.sh');
    expect(readFileSync(join(back, 'proj', 'a.txt'), 'utf8')).toBe('A');
    // Into an existing host folder: inside it.
    expect((await cp('dev:flat', back)).code).toBe(0);
    expect(readFileSync(join(back, 'flat', 'a.txt'), 'utf8')).toBe('A');
  }, 90_000);

  it('works on a stopped container', async () => {
    await dockerCli(['stop', '-t', '1', c]);
    try {
      writeFileSync(join(host, 'stopped.txt'), 'while stopped');
      const r = await cp(join(host, 'stopped.txt'), 'dev:stopped.txt');
      expect(r.code, r.stderr).toBe(0);
      const out = await cp('dev:stopped.txt', join(host, 'stopped-back.txt'));
      expect(out.code, out.stderr).toBe(0);
      expect(readFileSync(join(host, 'stopped-back.txt'), 'utf8')).toBe('while stopped');
      expect((await dockerCli(['inspect', '-f', '{{.State.Status}}', c])).trim()).toBe('exited');
    } finally {
      await dockerCli(['start', c]);
    }
    expect(await inC('stat -c %u /workspace/stopped.txt')).toBe(`${UID}\n`);
  }, 90_000);

  it('refuses paths outside /workspace: .. that escapes and absolute paths, both ways', async () => {
    writeFileSync(join(host, 'x.txt'), 'x');
    const outside = (shown: string, abs: string) => `error: refused: ${shown} is ${abs}, outside /workspace; cp reaches only /workspace inside a sandbox\n`;
    expect((await cp('dev:../etc/passwd', join(host, 'pw'))).stderr).toBe(outside('dev:../etc/passwd', '/etc/passwd'));
    expect((await cp('dev:/etc/passwd', join(host, 'pw'))).stderr).toBe(outside('dev:/etc/passwd', '/etc/passwd'));
    expect((await cp(join(host, 'x.txt'), 'dev:/etc/passwd')).stderr).toBe(outside('dev:/etc/passwd', '/etc/passwd'));
    expect((await cp(join(host, 'x.txt'), 'dev:/workspace/../tmp/')).stderr).toBe(outside('dev:/workspace/../tmp/', '/tmp'));
    expect(existsSync(join(host, 'pw'))).toBe(false);
  }, 60_000);

  it('refuses a symlink in /workspace that points out, as source and as destination, at any component', async () => {
    await inC('ln -s /etc /workspace/etc-link');
    const through = (shown: string) => `error: refused: ${shown} goes through the symlink /workspace/etc-link that points to /etc, outside /workspace; cp reaches only /workspace inside a sandbox\n`;
    const r1 = await cp('dev:etc-link/passwd', join(host, 'pw'));
    expect(r1.code).toBe(1);
    expect(r1.stderr).toBe(through('dev:etc-link/passwd'));
    expect((await cp('dev:etc-link', join(host, 'etc'))).stderr).toBe(through('dev:etc-link'));
    expect((await cp(join(host, 'x.txt'), 'dev:etc-link/')).stderr).toBe(through('dev:etc-link/'));
    expect((await cp(join(host, 'x.txt'), 'dev:etc-link/evil')).stderr).toBe(through('dev:etc-link/evil'));
    expect(existsSync(join(host, 'etc'))).toBe(false);
    expect(await inC('ls /etc/x.txt /etc/evil 2>&1 || true')).toContain('No such file');
  }, 60_000);

  it('refuses a folder holding a symlink that points out of it, both ways', async () => {
    await inC('mkdir -p /workspace/leaky && echo ok > /workspace/leaky/a && ln -s /etc/passwd /workspace/leaky/pw');
    const out = await cp('dev:leaky', join(host, 'leaky'));
    expect(out.code).toBe(1);
    expect(out.stderr).toBe('error: refused: /workspace/leaky/pw is a symlink to /etc/passwd, outside the copied folder /workspace/leaky; the copy stopped there\n');
    expect(existsSync(join(host, 'leaky', 'pw'))).toBe(false);

    const src = join(host, 'leaky-host');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a');
    symlinkSync('../../etc/shadow', join(src, 'up'));
    const inn = await cp(src, 'dev:');
    expect(inn.stderr).toBe(`error: refused: ${join(src, 'up')} is a symlink to ../../etc/shadow, outside ${src}; cp copies symlinks only when they point inside what is copied\n`);
    expect(await inC('ls /workspace/leaky-host 2>&1 || true')).toContain('No such file');
  }, 60_000);

  it('refuses symlinks that lead out only through other symlinks of the tree (y -> ., x -> y/y/../..), and ones that climb over the copied folder, both ways', async () => {
    // Lexically x stays in chain; really chain/y/y is chain, and ../.. from there is /.
    await inC('mkdir -p /workspace/chain && echo ok > /workspace/chain/a && ln -s . /workspace/chain/y && ln -s y/y/../.. /workspace/chain/x');
    expect(await inC('ls /workspace/chain/x/etc/passwd')).toBe('/workspace/chain/x/etc/passwd\n');
    const out = await cp('dev:chain', join(host, 'chain'));
    expect(out.code).toBe(1);
    expect(out.stderr).toBe('error: refused: /workspace/chain/x is a symlink to y/y/../.., which leads outside the copied folder /workspace/chain through its symlinks; it was not kept\n');
    expect(lstatSync(join(host, 'chain', 'x'), { throwIfNoEntry: false })).toBeUndefined();
    expect(readlinkSync(join(host, 'chain', 'y'))).toBe('.');

    // A hard link to such a symlink (the archive's `link` entry) is a symlink too: refused as well, none kept.
    await inC('mkdir -p /workspace/hl && cd /workspace/hl && ln -s . y && ln -s y/y/../.. s && ln s h');
    const hl = await cp('dev:hl', join(host, 'hl'));
    expect(hl.stderr).toBe('error: refused: /workspace/hl/h is a symlink to y/y/../.., which leads outside the copied folder /workspace/hl through its symlinks; it was not kept\n');
    expect([lstatSync(join(host, 'hl', 'h'), { throwIfNoEntry: false }), lstatSync(join(host, 'hl', 's'), { throwIfNoEntry: false })]).toEqual([undefined, undefined]);

    // ../chain/a stays in chain only while the copy is named chain: landed as other, it would be the host's sibling chain/a.
    await inC('mkdir -p /workspace/over && ln -s ../over/a /workspace/over/up');
    const over = await cp('dev:over', join(host, 'renamed'));
    expect(over.stderr).toBe('error: refused: /workspace/over/up is a symlink to ../over/a, outside the copied folder /workspace/over; the copy stopped there\n');
    expect(existsSync(join(host, 'renamed', 'up'))).toBe(false);

    const src = join(host, 'chain-host');
    mkdirSync(src);
    symlinkSync('.', join(src, 'y'));
    symlinkSync('y/y/../..', join(src, 'x'));
    const inn = await cp(src, 'dev:');
    expect(inn.code).toBe(1);
    expect(inn.stderr).toBe(
      `error: refused: ${join(src, 'x')} is a symlink to y/y/../.., which leads outside ${src} through its symlinks; cp copies symlinks only when they point inside what is copied\n`,
    );
    expect(await inC('ls /workspace/chain-host 2>&1 || true')).toContain('No such file');
  }, 60_000);

  it('refuses a host source that is a symlink out of its folder, and a device', async () => {
    symlinkSync('/etc/passwd', join(host, 'pw-link'));
    expect((await cp(join(host, 'pw-link'), 'dev:')).stderr).toBe(
      `error: refused: ${join(host, 'pw-link')} is a symlink to /etc/passwd, outside its folder; cp copies symlinks only when they point inside what is copied\n`,
    );
    const zero = await cp('/dev/zero', 'dev:zero');
    expect(zero.code).toBe(1);
    expect(zero.stderr).toBe('error: refused: /dev/zero is a character device; cp copies files, folders and symlinks only\n');
    expect(await inC('ls /workspace/zero 2>&1 || true')).toContain('No such file');
  }, 60_000);

  it("a file whose size is not what it was when the copy began (sysfs says 4096 bytes, gives a few) is named; what lands is the user's, never a partial root-owned file", async () => {
    const r = await cp('/sys/kernel/uevent_seqnum', 'dev:seq');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: \/sys\/kernel\/uevent_seqnum shrank while it was copied \(\d+ of the 4096 bytes it had when the copy began\); its copy in the sandbox was padded with zeros to that size: copy it again\n$/,
    );
    expect(await inC('stat -c "%u %s" /workspace/seq')).toBe(`${UID} 4096\n`);
  }, 60_000);

  it('never writes through a symlink in the host destination', async () => {
    await inC('mkdir -p /workspace/tree/sub && echo in > /workspace/tree/sub/x');
    const dest = join(host, 'dest');
    const elsewhere = join(host, 'elsewhere');
    mkdirSync(join(dest, 'tree'), { recursive: true });
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(dest, 'tree', 'sub'));
    const r = await cp('dev:tree', dest);
    expect(r.stderr).toBe(`error: refused: ${join(dest, 'tree', 'sub')} is a symlink on the host; the folder tree/sub from /workspace/tree is never written through it; the copy stopped there\n`);
    expect(existsSync(join(elsewhere, 'x'))).toBe(false);
    expect(lstatSync(join(dest, 'tree', 'sub')).isSymbolicLink()).toBe(true);
  }, 60_000);

  it('copying out over what is on the host: a file is made anew (its other hard links keep the old bytes); a FIFO and a file it may not write are refused and left as they were', async () => {
    await inC('echo new > /workspace/over.txt');
    const dest = join(host, 'over');
    mkdirSync(dest);
    const file = join(dest, 'over.txt');
    writeFileSync(file, 'old\n');
    linkSync(file, join(dest, 'other-name'));
    const r = await cp('dev:over.txt', file);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(readFileSync(join(dest, 'other-name'), 'utf8')).toBe('old\n');

    const fifo = join(dest, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const f = await cp('dev:over.txt', fifo);
    expect(f.code).toBe(1);
    expect(f.stderr).toBe(`error: refused: ${fifo} on the host is a FIFO (named pipe); the file over.txt is never written into it; the copy stopped there\n`);
    expect(lstatSync(fifo).isFIFO()).toBe(true);

    // Not writable for us: mode 0444, and for root (who may write anything) the immutable flag.
    const locked = join(dest, 'locked.txt');
    writeFileSync(locked, 'precious\n');
    chmodSync(locked, 0o444);
    const root = process.getuid?.() === 0;
    if (root) execFileSync('chattr', ['+i', locked]);
    try {
      const l = await cp('dev:over.txt', locked);
      expect(l.code).toBe(1);
      expect(l.stderr).toBe(`error: cannot replace ${locked} on the host by over.txt: it is not writable (mode 0444)\n  hint: make it writable or remove it, then copy again\n`);
    } finally {
      if (root) execFileSync('chattr', ['-i', locked]);
    }
    expect(readFileSync(locked, 'utf8')).toBe('precious\n');
  }, 60_000);

  // Names that are not UTF-8 (caf\xE9, \xFF, \xFE): byte for byte both ways, never U+FFFD, never
  // two files become one; each copy through the short path and the full one.
  const paths: Array<{ label: 'short' | 'full'; env: Record<string, string> }> = [
    { label: 'short', env: {} },
    { label: 'full', env: { SANDBOXSHIFT_NO_CONFIG_CACHE: '1' } },
  ];
  /** cp through one path, checked to be that path. */
  const cpVia = async (path: (typeof paths)[number], args: string[]) => {
    const { r, modules } = await runListingModules(p, ['cp', ...args], path.env);
    // The full path: the ESM bundle's cp command and the flag parser (node:util); the short one neither.
    expect(modules.includes('node:util') && modules.some((m) => /^file:.*\/bundle\/cp-[\w-]+\.js$/.test(m))).toBe(path.label === 'full');
    expect(modules.some((m) => m.endsWith('/cp-short-path.cjs'))).toBe(true);
    return r;
  };
  /** A host path whose last components are bytes. */
  const bytePath = (dir: string, ...names: number[][]) => Buffer.concat([Buffer.from(dir), ...names.map((n) => Buffer.concat([Buffer.from('/'), Buffer.from(n)]))]);
  const hostNames = (dir: string) =>
    readdirSync(dir, { encoding: 'buffer' })
      .map((b) => b.toString('hex'))
      .sort();
  /** The names in a container folder, each as hex of its bytes, and the contents of `files` (shell words). */
  const containerNames = async (dir: string) => (await inC(`cd ${dir} && for f in *; do printf '%s' "$f" | od -An -tx1 | tr -d ' \n'; echo; done`)).split('\n').filter(Boolean).sort();
  const CAFE = [0x63, 0x61, 0x66, 0xe9];
  const L_E9 = [0x6c, 0xe9];

  it('copies names that are not UTF-8 out byte for byte: a folder with one, a folder with two (\\377 and \\376, once one U+FFFD folder), a symlink to one; a symlink out with one is refused, named escaped', async () => {
    await inC(
      String.raw`mkdir -p /workspace/nu/u9 /workspace/nu/u8 /workspace/nu/bad && cd /workspace/nu && printf ONE > "u9/$(printf 'caf\351')" && ln -s "$(printf 'caf\351')" "u9/$(printf 'l\351')" && printf ONE > "u8/$(printf '\377')" && printf TWO > "u8/$(printf '\376')" && ln -s "/etc/$(printf '\377')" "bad/$(printf '\376')"`,
    );
    for (const path of paths) {
      const out = join(host, `nu-out-${path.label}`);
      mkdirSync(out);
      const r9 = await cpVia(path, ['--json', 'dev:nu/u9', join(out, 'u9')]);
      expect(r9.code, r9.stderr).toBe(0);
      expect(JSON.parse(r9.stdout)).toEqual({ format_version: '1.0', direction: 'out', source: 'dev:nu/u9', destination: join(out, 'u9'), files: 2, bytes: 3 });
      expect(hostNames(join(out, 'u9'))).toEqual(['636166e9', '6ce9']);
      expect(readFileSync(bytePath(out, [0x75, 0x39], CAFE), 'utf8')).toBe('ONE');
      expect(readlinkSync(bytePath(out, [0x75, 0x39], L_E9), { encoding: 'buffer' })).toEqual(Buffer.from(CAFE));

      const r8 = await cpVia(path, ['--json', 'dev:nu/u8', join(out, 'u8')]);
      expect(r8.code, r8.stderr).toBe(0);
      expect(JSON.parse(r8.stdout)).toEqual({ format_version: '1.0', direction: 'out', source: 'dev:nu/u8', destination: join(out, 'u8'), files: 2, bytes: 6 });
      expect(hostNames(join(out, 'u8'))).toEqual(['fe', 'ff']);
      expect(lstatSync(bytePath(out, [0x75, 0x38], [0xff])).isFile()).toBe(true);
      expect(readFileSync(bytePath(out, [0x75, 0x38], [0xff]), 'utf8')).toBe('ONE');
      expect(readFileSync(bytePath(out, [0x75, 0x38], [0xfe]), 'utf8')).toBe('TWO');

      const bad = await cpVia(path, ['dev:nu/bad', join(out, 'bad')]);
      expect(bad).toEqual({
        code: 1,
        stdout: '',
        stderr: 'error: refused: /workspace/nu/bad/\\xFE is a symlink to /etc/\\xFF, outside the copied folder /workspace/nu/bad; the copy stopped there\n',
      });
      expect(hostNames(join(out, 'bad'))).toEqual([]);
    }
  }, 90_000);

  it('copies names that are not UTF-8 in byte for byte: a folder with one and a symlink to it, a folder with two', async () => {
    const in9 = join(host, 'in9');
    const in8 = join(host, 'in8');
    mkdirSync(in9);
    mkdirSync(in8);
    writeFileSync(bytePath(in9, CAFE), 'ONE');
    symlinkSync(Buffer.from(CAFE), bytePath(in9, L_E9));
    writeFileSync(bytePath(in8, [0xff]), 'ONE');
    writeFileSync(bytePath(in8, [0xfe]), 'TWO');
    for (const path of paths) {
      const r9 = await cpVia(path, ['--json', in9, `dev:in9-${path.label}`]);
      expect(r9.code, r9.stderr).toBe(0);
      expect(JSON.parse(r9.stdout)).toEqual({ format_version: '1.0', direction: 'in', source: in9, destination: `dev:in9-${path.label}`, files: 2, bytes: 3 });
      expect(await containerNames(`/workspace/in9-${path.label}`)).toEqual(['636166e9', '6ce9']);
      expect(await inC(String.raw`cd /workspace/in9-${path.label} && cat "$(printf 'caf\351')" && readlink "$(printf 'l\351')" | od -An -tx1`)).toBe('ONE 63 61 66 e9 0a\n');

      const r8 = await cpVia(path, ['--json', in8, `dev:in8-${path.label}`]);
      expect(r8.code, r8.stderr).toBe(0);
      expect(JSON.parse(r8.stdout)).toEqual({ format_version: '1.0', direction: 'in', source: in8, destination: `dev:in8-${path.label}`, files: 2, bytes: 6 });
      expect(await containerNames(`/workspace/in8-${path.label}`)).toEqual(['fe', 'ff']);
      expect(await inC(String.raw`cd /workspace/in8-${path.label} && cat "$(printf '\377')" "$(printf '\376')" && stat -c %u "$(printf '\377')"`)).toBe(`ONETWO${UID}\n`);
    }
  }, 90_000);

  it('refuses a host path typed on the command line that is not UTF-8 (Node reads it as U+FFFD), both ways, instead of using another name', async () => {
    // As a shell passes it: the bytes caf\351 in argv.
    const typed = (args: string) =>
      spawnSync('sh', ['-c', `"$0" "$1" cp ${args}`, process.execPath, CLI], { cwd: p.dir, env: { ...process.env, NO_COLOR: '1', CI: 'true', HOST: host }, encoding: 'utf8' });
    const refusal = (path: string) =>
      `error: the host path ${path} is not UTF-8 (or holds U+FFFD, which Node puts for every byte of the command line that is not): cp would use another name\n  hint: name the folder that holds it instead: the names inside a copied folder keep their bytes, both ways\n`;
    const out = typed(String.raw`dev:f.txt "$HOST/$(printf 'caf\351')"`);
    expect([out.status, out.stderr]).toEqual([1, refusal(`${host}/caf\uFFFD`)]);
    expect(hostNames(host).filter((n) => n.startsWith('636166'))).toEqual([]);
    const inn = typed(String.raw`"$HOST/in9/$(printf 'caf\351')" dev:`);
    expect([inn.status, inn.stderr]).toEqual([1, refusal(`${host}/in9/caf\uFFFD`)]);
  }, 60_000);

  it('takes the short path on a cached config (one CommonJS file: no ESM loader, flag parser, node:http, node:crypto or dockerode), the full one without the cache, alike: a copy in, out, a refusal, a container we did not make', async () => {
    writeFileSync(join(host, 'short.txt'), 'short\n');
    const both = async (args: string[]) => {
      const short = await runListingModules(p, ['cp', ...args]);
      const full = await runListingModules(p, ['cp', ...args], { SANDBOXSHIFT_NO_CONFIG_CACHE: '1' });
      expect(full.r).toEqual(short.r);
      expect(short.modules.some((m) => m.endsWith('/cp-short-path.cjs'))).toBe(true);
      expect(short.modules.filter((m) => m.startsWith('file:'))).toEqual([]);
      expect(short.modules.filter((m) => ['node:util', 'node:http', 'node:crypto', 'dockerode'].includes(m))).toEqual([]);
      // The full path: the ESM bundle's cp command and the flag parser (node:util).
      expect(full.modules).toContain('node:util');
      expect(full.modules.some((m) => /^file:.*\/bundle\/cp-[\w-]+\.js$/.test(m))).toBe(true);
      return short.r;
    };
    expect(await both([join(host, 'short.txt'), 'dev:short.txt'])).toEqual({ code: 0, stdout: '', stderr: 'Successfully copied 1 file (6 B) to dev:short.txt\n' });
    expect(await inC('stat -c "%u:%g" /workspace/short.txt; cat /workspace/short.txt')).toBe(`${UID}:${UID}\nshort\n`);
    const out = await both(['--json', 'dev:short.txt', join(host, 'short-out.txt')]);
    expect(JSON.parse(out.stdout)).toEqual({ format_version: '1.0', direction: 'out', source: 'dev:short.txt', destination: join(host, 'short-out.txt'), files: 1, bytes: 6 });
    expect(readFileSync(join(host, 'short-out.txt'), 'utf8')).toBe('short\n');
    expect(await both(['dev:../../etc/passwd', join(host, 'passwd')])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: refused: dev:../../etc/passwd is /etc/passwd, outside /workspace; cp reaches only /workspace inside a sandbox\n',
    });
    // A container under the environment's name that another project made: nothing is written into it.
    const name = containerOf(p.name, 'dev');
    const moved = `${name}-moved`;
    await dockerCli(['rename', name, moved]);
    // Another project's; one made by hand with this project's label alone; one labelled for another environment.
    const planted = [
      ['io.sandboxshift.project=someone-else'],
      [`io.sandboxshift.project=${p.name}`],
      [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=environment', 'io.sandboxshift.environment=gone'],
    ];
    try {
      for (const labels of planted) {
        await dockerCli(['run', '-d', '--name', name, ...labels.flatMap((l) => ['--label', l]), '--user', UID, 'sandboxshift/busybox:test', 'sleep', '600']);
        const refusal = {
          code: 1,
          stdout: '',
          stderr: `error: a container named ${name} exists that sandboxshift did not create for environment.dev of project ${p.name}\n  hint: remove or rename it (docker rm ${name}) and run sandboxshift apply\n`,
        };
        expect(await both([join(host, 'short.txt'), 'dev:planted.txt'])).toEqual(refusal);
        expect(await both(['dev:.', join(host, 'planted-out')])).toEqual(refusal);
        expect(await sh(name, 'test -e /workspace/planted.txt || echo absent')).toEqual({ out: 'absent\n', rc: 0 });
        await dockerCli(['rm', '-f', name]);
      }
    } finally {
      await dockerCli(['rm', '-f', name]).catch(() => undefined);
      await dockerCli(['rename', moved, name]);
    }
    expect(existsSync(join(host, 'planted-out'))).toBe(false);
    expect(existsSync(join(host, 'passwd'))).toBe(false);
  }, 60_000);

  it('says what is wrong: unknown environment, missing container, missing source, missing destination parent', async () => {
    const unknown = await cp('devv:a', join(host, 'a'));
    expect(unknown.stderr).toBe(`error: environment 'devv' is not in ${p.file} — did you mean 'dev'?\n  hint: environments in the config: dev, gone\n`);
    await dockerCli(['rm', '-f', containerOf(p.name, 'gone')]);
    expect((await cp('gone:a', join(host, 'a'))).stderr).toBe('error: environment.gone has no container on the engine\n  hint: run `sandboxshift apply` to create it\n');
    expect((await cp('dev:nope', join(host, 'a'))).stderr).toBe('error: no such file or folder in environment.dev: /workspace/nope\n');
    expect((await cp(join(host, 'nope'), 'dev:')).stderr).toBe(`error: no such file or folder on the host: ${join(host, 'nope')}\n`);
    expect((await cp(join(host, 'x.txt'), 'dev:no/such/x')).stderr).toBe('error: dev:no/such/x: destination parent folder /workspace/no/such does not exist\n');
    expect((await cp('dev:f.txt', join(host, 'no', 'f.txt'))).stderr).toBe(`error: destination parent folder ${join(host, 'no')} does not exist\n`);
    // Host file system failures name the host path, never "cannot reach the Docker engine" (ENOENT, EACCES).
    expect((await cp('dev:f.txt', '/proc/no-such-entry')).stderr).toBe('error: cannot open /proc/no-such-entry on the host: no such file or directory (ENOENT)\n');
    await inC('mkdir -p /workspace/merge/a && echo hi > /workspace/merge/a/f');
    mkdirSync(join(host, 'merged', 'merge', 'a', 'f'), { recursive: true });
    expect((await cp('dev:merge', join(host, 'merged'))).stderr).toBe(`error: cannot copy the file merge/a/f onto the folder ${join(host, 'merged', 'merge', 'a', 'f')}\n`);
    // A config with an error stops the copy with its diagnostics, read fresh or from the checked-config cache.
    const bad = join(host, 'bad.yaml');
    writeFileSync(bad, `version: 1\nproject: ${p.name}\nenvironments:\n  dev: { image: nope }\n`);
    for (let i = 0; i < 2; i++) {
      const r = await cp('-c', bad, 'dev:f.txt', join(host, 'bad-out'));
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`${bad}:4:17: error: image 'nope' is not defined under images (at environments.dev.image)\n  hint: define 'nope' under images:, or write image: auto\n`);
    }
    expect(existsSync(join(host, 'bad-out'))).toBe(false);
    expect((await cp('dev:a', 'dev:b')).stderr).toBe(
      'error: cp copies between the host and one environment, not between two environments\n  hint: sandboxshift cp ./file ENV:/workspace/  or  sandboxshift cp ENV:/workspace/file ./\n',
    );
  }, 60_000);
});

describe('cp under runsc', () => {
  let p: TestProject;
  let host: string;
  beforeAll(async () => {
    p = testProject('cp-runsc', busyboxConfig('  sandboxed:\n    runtime: runsc\n', '{ cpus: 0.5, memory: 128m, pids: 64 }'));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    host = mkdtempSync(join(tmpdir(), 'ss-cp-runsc-'));
  }, 180_000);
  afterAll(async () => {
    await p.cleanup();
    rmSync(host, { recursive: true, force: true });
  });

  it('copies in (owned by the environment user) and out, and refuses a symlink out made inside', async () => {
    const c = containerOf(p.name, 'sandboxed');
    writeFileSync(join(host, 'g.txt'), 'gvisor');
    const r = await p.run(['cp', join(host, 'g.txt'), 'sandboxed:g.txt']);
    expect(r.code, r.stderr).toBe(0);
    expect(await execIn(c, ['sh', '-c', 'stat -c %u /workspace/g.txt; cat /workspace/g.txt'])).toBe(`${UID}\ngvisor`);
    await execIn(c, ['sh', '-c', 'echo made-inside > /workspace/m.txt && ln -s /etc /workspace/out']);
    const out = await p.run(['cp', 'sandboxed:m.txt', join(host, 'm.txt')]);
    expect(out.code, out.stderr).toBe(0);
    expect(readFileSync(join(host, 'm.txt'), 'utf8')).toBe('made-inside\n');
    expect((await p.run(['cp', 'sandboxed:out/passwd', join(host, 'pw')])).stderr).toBe(
      'error: refused: sandboxed:out/passwd goes through the symlink /workspace/out that points to /etc, outside /workspace; cp reaches only /workspace inside a sandbox\n',
    );
  }, 90_000);
});

describe('cp into and out of an extra volume', () => {
  let p: TestProject;
  let host: string;
  beforeAll(async () => {
    p = testProject('cp-vol', busyboxConfig('  agent:\n    volumes: { data: /data/agent }\n'));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    host = mkdtempSync(join(tmpdir(), 'ss-cp-vol-'));
  }, 180_000);
  afterAll(async () => {
    await p.cleanup();
    rmSync(host, { recursive: true, force: true });
  });

  it('reaches the declared volume like /workspace, and nothing beside it', async () => {
    const c = containerOf(p.name, 'agent');
    writeFileSync(join(host, 's.json'), '{"session":1}');
    const r = await p.run(['cp', join(host, 's.json'), 'agent:/data/agent/']);
    expect(r.code, r.stderr).toBe(0);
    expect(await execIn(c, ['sh', '-c', 'stat -c %u /data/agent/s.json; cat /data/agent/s.json'])).toBe(`${UID}\n{"session":1}`);
    const out = await p.run(['cp', 'agent:/data/agent/s.json', join(host, 'back.json')]);
    expect(out.code, out.stderr).toBe(0);
    expect(readFileSync(join(host, 'back.json'), 'utf8')).toBe('{"session":1}');
    const outside = (shown: string, abs: string) => `error: refused: ${shown} is ${abs}, outside /workspace, /data/agent; cp reaches only /workspace, /data/agent inside a sandbox\n`;
    expect((await p.run(['cp', join(host, 's.json'), 'agent:/data/'])).stderr).toBe(outside('agent:/data/', '/data'));
    expect((await p.run(['cp', 'agent:/data/agent/../../etc/passwd', join(host, 'pw')])).stderr).toBe(outside('agent:/data/agent/../../etc/passwd', '/etc/passwd'));
    expect(existsSync(join(host, 'pw'))).toBe(false);
  }, 90_000);
});
