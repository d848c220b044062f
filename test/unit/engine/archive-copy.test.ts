// The host side of a copy out, fed crafted archives (the engine never sends these, an attacker
// inside a sandbox cannot make it, but the extractor must not trust that): nothing lands outside
// the destination, and nothing is written through a symlink.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ArchiveClient } from '../../../src/engine/archive-client.js';
import { copyIntoContainer, copyOutOfContainer, resolveContainerPath, scanHostSource } from '../../../src/engine/archive-copy.js';
import { END, TarReader, encodeHeader, padding } from '../../../src/engine/tar.js';

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string; body?: string };

function fakeArchive(entries: Entry[]): ArchiveClient {
  return {
    stat: async () => null,
    put: async () => undefined,
    get: async (_path, onData) => {
      const p = pack();
      for (const e of entries) {
        if ((e.type ?? 'file') === 'file') p.entry({ name: e.name, mode: 0o644 }, e.body ?? 'x');
        else p.entry({ name: e.name, type: e.type, linkname: e.linkname, mode: 0o755 });
      }
      p.finalize();
      for await (const chunk of p as unknown as AsyncIterable<Buffer>) await onData(chunk);
    },
  };
}

/** Bytes as a byte string (tar names are: one character per byte); strings are taken as UTF-8. */
const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))).toString('latin1');
/** A host path whose last components are bytes, as node:fs takes it. */
const hostPath = (dir: string, ...rest: string[]) => Buffer.concat([Buffer.from(dir), ...rest.map((r) => Buffer.from(`/${r}`, 'latin1'))]);
const names = (dir: Buffer | string) => readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare);

/** An archive written by our own encoder (tar-stream writes names as UTF-8 only), each entry its own piece; `between(i)` runs after piece i was taken. */
function rawArchive(entries: Array<Entry & { name: string }>, between: (i: number) => void = () => undefined): ArchiveClient {
  return {
    stat: async () => null,
    put: async () => undefined,
    get: async (_path, onData) => {
      const mtime = new Date(1_700_000_000_000);
      for (const [i, e] of entries.entries()) {
        const body = Buffer.from(e.type === undefined || e.type === 'file' ? (e.body ?? 'x') : '');
        const head = encodeHeader({ name: e.name, type: e.type ?? 'file', mode: e.type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, size: body.length, mtime, linkname: e.linkname });
        await onData(Buffer.concat([head, body, Buffer.alloc(padding(body.length))]));
        between(i);
      }
      await onData(END);
    },
  };
}

describe('copyOutOfContainer against crafted archives', () => {
  let root: string;
  let dest: string;
  let outside: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ss-cp-unit-'));
    dest = join(root, 'dest');
    outside = join(root, 'outside');
    mkdirSync(dest);
    mkdirSync(outside);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('copies a plain folder, renaming its top entry', async () => {
    const totals = await copyOutOfContainer(
      fakeArchive([
        { name: 'd/', type: 'directory' },
        { name: 'd/a', body: 'hello' },
        { name: 'd/ln', type: 'symlink', linkname: 'a' },
      ]),
      '/workspace/d',
      dest,
      'e',
    );
    expect(totals).toEqual({ files: 2, bytes: 5 });
    expect(readFileSync(join(dest, 'e', 'a'), 'utf8')).toBe('hello');
    expect(lstatSync(join(dest, 'e', 'ln')).isSymbolicLink()).toBe(true);
  });

  it('refuses entries with .. or an absolute name', async () => {
    await expect(copyOutOfContainer(fakeArchive([{ name: 'd/', type: 'directory' }, { name: 'd/../../outside/x' }]), '/workspace/d', dest, 'd')).rejects.toThrow(
      `refused: the archive of /workspace/d has an entry named "d/../../outside/x" that would land outside ${dest}; the copy stopped there`,
    );
    await expect(copyOutOfContainer(fakeArchive([{ name: `${outside}/abs` }]), '/workspace/d', dest, 'd')).rejects.toThrow(`has an entry named "${outside}/abs" that would land outside ${dest}`);
    expect(existsSync(join(outside, 'x'))).toBe(false);
    expect(existsSync(join(outside, 'abs'))).toBe(false);
  });

  it('refuses a symlink pointing out, and never writes through a symlink the archive made', async () => {
    await expect(
      copyOutOfContainer(
        fakeArchive([
          { name: 'd/', type: 'directory' },
          { name: 'd/ln', type: 'symlink', linkname: outside },
        ]),
        '/workspace/d',
        dest,
        'd',
      ),
    ).rejects.toThrow(`refused: /workspace/d/ln is a symlink to ${outside}, outside the copied folder /workspace/d; the copy stopped there`);
    await expect(
      copyOutOfContainer(
        fakeArchive([{ name: 'e/', type: 'directory' }, { name: 'e/sub/', type: 'directory' }, { name: 'e/ln', type: 'symlink', linkname: 'sub' }, { name: 'e/ln/x' }]),
        '/workspace/e',
        dest,
        'e',
      ),
    ).rejects.toThrow('refused: the archive of /workspace/e writes e/ln/x through the symlink e/ln; the copy stopped there');
    expect(existsSync(join(dest, 'e', 'sub', 'x'))).toBe(false);
  });

  it('never writes through a symlink already in the host destination', async () => {
    mkdirSync(join(dest, 'd'));
    symlinkSync(outside, join(dest, 'd', 'sub'));
    await expect(copyOutOfContainer(fakeArchive([{ name: 'd/', type: 'directory' }, { name: 'd/sub/', type: 'directory' }, { name: 'd/sub/x' }]), '/workspace/d', dest, 'd')).rejects.toThrow(
      `refused: ${join(dest, 'd', 'sub')} is a symlink on the host; the folder d/sub from /workspace/d is never written through it; the copy stopped there`,
    );
    // Without the folder entry, the file entry itself is refused.
    await expect(copyOutOfContainer(fakeArchive([{ name: 'd/', type: 'directory' }, { name: 'd/sub/x' }]), '/workspace/d', dest, 'd')).rejects.toThrow(
      'refused: the archive of /workspace/d writes d/sub/x through the symlink d/sub; the copy stopped there',
    );
    expect(existsSync(join(outside, 'x'))).toBe(false);
  });

  it('replaces a symlink at a file entry instead of following it', async () => {
    symlinkSync(join(outside, 'target'), join(dest, 'f'));
    await copyOutOfContainer(fakeArchive([{ name: 'f', body: 'new' }]), '/workspace/f', dest, 'f');
    expect(lstatSync(join(dest, 'f')).isFile()).toBe(true);
    expect(existsSync(join(outside, 'target'))).toBe(false);
  });

  it('replaces a file already there with a new one instead of truncating it (its other hard links keep the old bytes)', async () => {
    const old = join(dest, 'f');
    writeFileSync(old, 'old contents');
    linkSync(old, join(outside, 'other-name'));
    const before = lstatSync(old).ino;
    await copyOutOfContainer(fakeArchive([{ name: 'f', body: 'new' }]), '/workspace/f', dest, 'f');
    expect(readFileSync(join(dest, 'f'), 'utf8')).toBe('new');
    expect(lstatSync(join(dest, 'f')).ino).not.toBe(before);
    expect(readFileSync(join(outside, 'other-name'), 'utf8')).toBe('old contents');
  });

  it('refuses to replace a file it may not write, and leaves it whole', async () => {
    const old = join(dest, 'f');
    writeFileSync(old, 'precious');
    // Read-only for us: mode 0444, and for root (who may write anything) the immutable flag.
    chmodSync(old, 0o444);
    const root = process.getuid?.() === 0;
    if (root) execFileSync('chattr', ['+i', old]);
    try {
      await expect(copyOutOfContainer(fakeArchive([{ name: 'f', body: 'new' }]), '/workspace/f', dest, 'f')).rejects.toThrow(`cannot replace ${old} on the host by f: it is not writable (mode 0444)`);
    } finally {
      if (root) execFileSync('chattr', ['-i', old]);
    }
    expect(readFileSync(old, 'utf8')).toBe('precious');
  });

  it('refuses a FIFO at the destination instead of blocking on it', async () => {
    const fifo = join(dest, 'f');
    execFileSync('mkfifo', [fifo]);
    await expect(copyOutOfContainer(fakeArchive([{ name: 'f', body: 'new' }]), '/workspace/f', dest, 'f')).rejects.toThrow(
      `refused: ${fifo} on the host is a FIFO (named pipe); the file f is never written into it; the copy stopped there`,
    );
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('refuses a hard link to something outside the copied folder', async () => {
    await expect(
      copyOutOfContainer(
        fakeArchive([
          { name: 'd/', type: 'directory' },
          { name: 'd/h', type: 'link', linkname: '../etc/passwd' },
        ]),
        '/workspace/d',
        dest,
        'd',
      ),
    ).rejects.toThrow('refused: d/h is a hard link to ../etc/passwd, outside the copied folder; the copy stopped there');
  });

  it('refuses an archive that names one file twice (its writes could land on the second one), keeping the first', async () => {
    await expect(
      copyOutOfContainer(
        fakeArchive([
          { name: 'd/', type: 'directory' },
          { name: 'd/f', body: 'first' },
          { name: 'd/./f', body: 'second' },
        ]),
        '/workspace/d',
        dest,
        'd',
      ),
    ).rejects.toThrow('refused: the archive of /workspace/d has the file d/f twice; the copy stopped there');
    expect(readFileSync(join(dest, 'd', 'f'), 'utf8')).toBe('first');
  });

  it('lands names that are not UTF-8 as their bytes, each apart (\\xFF and \\xFE never become one U+FFFD), with symlink targets the same', async () => {
    const cafe = bytes('caf', [0xe9]);
    const totals = await copyOutOfContainer(
      rawArchive([
        { name: 'd', type: 'directory' },
        { name: `d/${cafe}`, body: 'ONE' },
        { name: bytes('d/', [0xff]), body: 'FF' },
        { name: bytes('d/', [0xfe]), body: 'FE!' },
        { name: bytes('d/sub', [0xe9]), type: 'directory' },
        { name: bytes('d/sub', [0xe9], '/', [0x80]), body: 'deep' },
        { name: 'd/ln', type: 'symlink', linkname: cafe },
      ]),
      '/workspace/d',
      dest,
      'e',
    );
    expect(totals).toEqual({ files: 5, bytes: 12 });
    expect(names(join(dest, 'e'))).toEqual([Buffer.from('caf\xe9', 'latin1'), Buffer.from('ln'), Buffer.from('sub\xe9', 'latin1'), Buffer.from([0xfe]), Buffer.from([0xff])]);
    expect(readFileSync(hostPath(dest, 'e', cafe), 'utf8')).toBe('ONE');
    expect(readFileSync(hostPath(dest, 'e', '\xff'), 'utf8')).toBe('FF');
    expect(readFileSync(hostPath(dest, 'e', '\xfe'), 'utf8')).toBe('FE!');
    expect(lstatSync(hostPath(dest, 'e', 'sub\xe9')).isDirectory()).toBe(true);
    expect(readFileSync(hostPath(dest, 'e', 'sub\xe9', '\x80'), 'utf8')).toBe('deep');
    expect(readlinkSync(join(dest, 'e', 'ln'), { encoding: 'buffer' })).toEqual(Buffer.from('caf\xe9', 'latin1'));
  });

  it('checks names that are not UTF-8 by their bytes, and shows them escaped', async () => {
    await expect(copyOutOfContainer(rawArchive([{ name: 'd', type: 'directory' }, { name: bytes('d/', [0xff], '/../../outside/x') }]), '/workspace/d', dest, 'd')).rejects.toThrow(
      `refused: the archive of /workspace/d has an entry named "d/\\xFF/../../outside/x" that would land outside ${dest}; the copy stopped there`,
    );
    await expect(
      copyOutOfContainer(
        rawArchive([
          { name: 'd', type: 'directory' },
          { name: bytes('d/', [0xff]), type: 'symlink', linkname: bytes('../../', [0xfe]) },
        ]),
        '/workspace/d',
        dest,
        'd',
      ),
    ).rejects.toThrow('refused: /workspace/d/\\xFF is a symlink to ../../\\xFE, outside the copied folder /workspace/d; the copy stopped there');
    expect(readdirSync(outside)).toEqual([]);
    expect(names(join(dest, 'd'))).toEqual([]);
  });

  it('never lets two entries become one: a name twice, whatever its kinds, and two names the host takes for one (as a file system that ignores case would)', async () => {
    await expect(
      copyOutOfContainer(
        rawArchive([
          { name: 'd', type: 'directory' },
          { name: 'd/x', type: 'symlink', linkname: 'y' },
          { name: 'd/x', body: 'file' },
        ]),
        '/workspace/d',
        dest,
        'd',
      ),
    ).rejects.toThrow('refused: the archive of /workspace/d has d/x twice (a symlink, then a file); the copy stopped there');
    expect(readlinkSync(join(dest, 'd', 'x'))).toBe('y');
    // After d/A lands, d/a is the same file on the host (a hard link here; README and readme on
    // a file system that ignores case): d/a is refused, d/A kept.
    await expect(
      copyOutOfContainer(
        rawArchive(
          [
            { name: 'c', type: 'directory' },
            { name: 'c/A', body: 'upper' },
            { name: 'c/a', body: 'lower' },
          ],
          (i) => i === 1 && linkSync(join(dest, 'c', 'A'), join(dest, 'c', 'a')),
        ),
        '/workspace/c',
        dest,
        'c',
      ),
    ).rejects.toThrow(`refused: the archive of /workspace/c has c/A and c/a, and the host file system takes both for ${join(dest, 'c', 'a')}; the copy stopped there`);
    expect(readFileSync(join(dest, 'c', 'A'), 'utf8')).toBe('upper');
  });
});

describe('copy in: names that are not UTF-8', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ss-cp-in-unit-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reads the host folder as bytes and sends each name and symlink target as those bytes', async () => {
    const src = join(root, 'src');
    mkdirSync(src);
    writeFileSync(hostPath(src, 'caf\xe9'), 'ONE');
    writeFileSync(hostPath(src, '\xff'), 'FF');
    writeFileSync(hostPath(src, '\xfe'), 'FE!');
    symlinkSync(Buffer.from('caf\xe9', 'latin1'), hostPath(src, 'ln\xe9'));
    const entries = scanHostSource(src);
    expect(entries.map((e) => e.rel)).toEqual(['src', 'src/caf\xe9', 'src/ln\xe9', 'src/\xfe', 'src/\xff']);
    const sent: Buffer[] = [];
    const archive: ArchiveClient = {
      stat: async () => null,
      get: async () => undefined,
      put: async (_dir, produce) => produce(async (chunk) => void sent.push(Buffer.from(chunk))),
    };
    expect(await copyIntoContainer(archive, entries, '/workspace', 'dst', 1, 1)).toEqual({ files: 4, bytes: 8 });
    const got: Array<[string, string, string, string]> = [];
    const reader = new TarReader((h) => {
      const parts: Buffer[] = [];
      return { data: (c) => void parts.push(Buffer.from(c)), end: () => void got.push([h.name, h.type, h.linkname, Buffer.concat(parts).toString()]) };
    }, 'sent');
    reader.feed(Buffer.concat(sent));
    reader.end();
    expect(got).toEqual([
      ['dst/', 'directory', '', ''],
      ['dst/caf\xe9', 'file', '', 'ONE'],
      ['dst/ln\xe9', 'symlink', 'caf\xe9', ''],
      ['dst/\xfe', 'file', '', 'FE!'],
      ['dst/\xff', 'file', '', 'FF'],
    ]);
  });

  it('shows such names escaped when it refuses them', () => {
    const src = join(root, 'leaky');
    mkdirSync(src);
    symlinkSync(Buffer.from('/etc/\xfe', 'latin1'), hostPath(src, '\xff'));
    expect(() => scanHostSource(src)).toThrow(`refused: ${src}/\\xFF is a symlink to /etc/\\xFE, outside ${src}; cp copies symlinks only when they point inside what is copied`);
  });
});

// A path that does not exist yet resolves to where it would be, and whether its parent is there.
describe('resolveContainerPath: a missing path', () => {
  const DIR = { name: 'd', size: 0, mode: 2 ** 31 + 0o755, linkTarget: '' };
  const withStats = (known: Record<string, typeof DIR>): ArchiveClient => ({
    stat: async (path) => known[path] ?? null,
    put: async () => undefined,
    get: async () => undefined,
  });

  it('under a root that is there', async () => {
    const archive = withStats({ '/workspace': DIR, '/workspace/a': DIR });
    expect(await resolveContainerPath(archive, '/workspace/a/new.txt', ['/workspace'], 'dev:a/new.txt')).toEqual({
      real: '/workspace/a/new.txt',
      existing: 'missing',
      parentExisting: 'dir',
    });
  });

  it('under a root that is missing', async () => {
    const archive = withStats({});
    expect(await resolveContainerPath(archive, '/workspace/src', ['/workspace'], 'dev:src')).toEqual({
      real: '/workspace/src',
      existing: 'missing',
      parentExisting: 'missing',
    });
  });
});
