import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  containerPath,
  hostArgNotUtf8,
  landing,
  linkStaysInside,
  parseCpArg,
  rawName,
  reachableRoots,
  rebaseEntry,
  safeEntryName,
  showName,
  underRoots,
  type Existing,
} from '../../../src/model/copy-paths.js';

const land = (source: { isDir: boolean; name: string; contentsOnly?: boolean }, path: string, existing: Existing, parentExisting: Existing = 'dir', trailingSlash = false) =>
  landing(
    { contentsOnly: false, ...source },
    { path, trailingSlash, existing, parentExisting },
    (p) => posix.dirname(p),
    (p) => posix.basename(p),
  );

describe('parseCpArg', () => {
  it('reads NAME:path as a sandbox path and anything starting with / or . as a host path', () => {
    expect(parseCpArg('dev:/workspace/a')).toEqual({ kind: 'env', env: 'dev', path: '/workspace/a' });
    expect(parseCpArg('dev:')).toEqual({ kind: 'env', env: 'dev', path: '' });
    expect(parseCpArg('./dev:x')).toEqual({ kind: 'host', path: './dev:x' });
    expect(parseCpArg('/tmp/a:b')).toEqual({ kind: 'host', path: '/tmp/a:b' });
    expect(parseCpArg('file.txt')).toEqual({ kind: 'host', path: 'file.txt' });
    expect(parseCpArg('dir/a:b')).toEqual({ kind: 'host', path: 'dir/a:b' });
  });
});

describe('containerPath and the roots', () => {
  it('puts relative paths in /workspace and resolves .. lexically', () => {
    expect(containerPath('notes.txt').abs).toBe('/workspace/notes.txt');
    expect(containerPath('').abs).toBe('/workspace');
    expect(containerPath('../etc/passwd').abs).toBe('/etc/passwd');
    expect(containerPath('/workspace/../../etc').abs).toBe('/etc');
    expect(containerPath('a/b/').abs).toBe('/workspace/a/b');
    expect(containerPath('a/b/')).toMatchObject({ trailingSlash: true, contentsOnly: false });
    expect(containerPath('a/.')).toMatchObject({ abs: '/workspace/a', trailingSlash: true, contentsOnly: true });
  });
  it('keeps only /workspace and the declared volumes reachable, never a prefix look-alike', () => {
    const roots = reachableRoots();
    expect(roots).toEqual(['/workspace']);
    expect(underRoots('/workspace', roots)).toBe(true);
    expect(underRoots('/workspace/a', roots)).toBe(true);
    expect(underRoots('/workspace2/a', roots)).toBe(false);
    expect(underRoots('/etc/passwd', roots)).toBe(false);
    expect(reachableRoots({ agent: '/data/agent/' })).toEqual(['/workspace', '/data/agent']);
  });
});

describe('landing (docker cp rules)', () => {
  it('a file into an existing folder keeps its name; onto a file replaces it; to a missing path takes that name', () => {
    expect(land({ isDir: false, name: 'f' }, '/workspace/d', 'dir')).toEqual({ ok: true, dir: '/workspace/d', name: 'f' });
    expect(land({ isDir: false, name: 'f' }, '/workspace/g', 'file')).toEqual({ ok: true, dir: '/workspace', name: 'g' });
    expect(land({ isDir: false, name: 'f' }, '/workspace/new', 'missing')).toEqual({ ok: true, dir: '/workspace', name: 'new' });
  });
  it('a folder into an existing folder lands inside it, or only its contents with SRC/.; to a missing path it is created', () => {
    expect(land({ isDir: true, name: 'd' }, '/workspace/e', 'dir')).toEqual({ ok: true, dir: '/workspace/e', name: 'd' });
    expect(land({ isDir: true, name: 'd', contentsOnly: true }, '/workspace/e', 'dir')).toEqual({ ok: true, dir: '/workspace/e', name: null });
    expect(land({ isDir: true, name: 'd' }, '/workspace/new', 'missing')).toEqual({ ok: true, dir: '/workspace', name: 'new' });
  });
  it('refuses a folder onto a file, a missing parent, and a missing folder named with a trailing /', () => {
    expect(land({ isDir: true, name: 'd' }, '/workspace/f', 'file')).toEqual({ ok: false, error: 'cannot copy a folder onto the file /workspace/f' });
    expect(land({ isDir: false, name: 'f' }, '/workspace/no/f', 'missing', 'missing')).toEqual({ ok: false, error: 'destination parent folder /workspace/no does not exist' });
    expect(land({ isDir: false, name: 'f' }, '/workspace/no', 'missing', 'dir', true)).toEqual({ ok: false, error: 'destination folder /workspace/no does not exist' });
    expect(land({ isDir: false, name: 'f' }, '/workspace/g', 'file', 'dir', true)).toEqual({ ok: false, error: '/workspace/g is a file, not a folder' });
  });
});

describe('tar entries and symlinks', () => {
  it('refuses absolute entry names and any .. component', () => {
    expect(safeEntryName('d/a/b')).toBe('d/a/b');
    expect(safeEntryName('./d/a/')).toBe('d/a');
    expect(safeEntryName('/etc/passwd')).toBeNull();
    expect(safeEntryName('d/../../x')).toBeNull();
    expect(safeEntryName('..')).toBeNull();
  });
  it('keeps a symlink only when it points inside the copied tree', () => {
    expect(linkStaysInside('d/a/ln', '../b', 'd')).toBe(true);
    expect(linkStaysInside('d/ln', 'sub/y', 'd')).toBe(true);
    expect(linkStaysInside('d/ln', '.', 'd')).toBe(true);
    expect(linkStaysInside('d/ln', '../x', 'd')).toBe(false);
    expect(linkStaysInside('d/a/ln', '../../d2/x', 'd')).toBe(false);
    expect(linkStaysInside('d/ln', '/etc/passwd', 'd')).toBe(false);
    expect(linkStaysInside('d/ln', '', 'd')).toBe(false);
  });
  it('walks a symlink one component at a time: climbing over the tree even for a moment is out, and other symlinks are followed', () => {
    expect(linkStaysInside('d/ln', '../d/x', 'd')).toBe(false);
    expect(linkStaysInside('d/a/ln', '../../d/x', 'd')).toBe(false);
    const links = new Map([
      ['d/y', '.'],
      ['d/loop', 'loop'],
      ['d/abs', '/etc'],
      ['d/deep', 'a/b/c'],
    ]);
    const readlink = (rel: string) => links.get(rel) ?? null;
    expect(linkStaysInside('d/x', 'y/y/../..', 'd', readlink)).toBe(false);
    expect(linkStaysInside('d/x', 'y/..', 'd', readlink)).toBe(false);
    expect(linkStaysInside('d/x', 'y/y/a', 'd', readlink)).toBe(true);
    expect(linkStaysInside('d/x', 'deep/../..', 'd', readlink)).toBe(true);
    expect(linkStaysInside('d/x', 'loop/a', 'd', readlink)).toBe(false);
    expect(linkStaysInside('d/x', 'abs/passwd', 'd', readlink)).toBe(false);
    expect(linkStaysInside('d/x', 'y/y/../..', 'd')).toBe(true); // what the lexical walk alone believes
  });
  it('renames the top entry, or drops it for contents only', () => {
    expect(rebaseEntry('d', 'new')).toBe('new');
    expect(rebaseEntry('d/a/b', 'new')).toBe('new/a/b');
    expect(rebaseEntry('d/a/b', null)).toBe('a/b');
    expect(rebaseEntry('d', null)).toBe('');
  });
  it('checks names that are bytes, not UTF-8, by their bytes: `/` and `..` are caught wherever they are', () => {
    const b = (...parts: Array<string | number>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from([p])))).toString('latin1');
    expect(safeEntryName(b('d/caf', 0xe9))).toBe(b('d/caf', 0xe9));
    expect(safeEntryName(b('d/', 0xff, '/../../x'))).toBeNull();
    expect(safeEntryName(b('/', 0xff))).toBeNull();
    expect(safeEntryName(b('d/', 0xff, 0, 'x'))).toBeNull();
    // `..` followed by a byte is a name like any other, not a climb.
    expect(safeEntryName(b('d/..', 0xff))).toBe(b('d/..', 0xff));
    expect(linkStaysInside(b('d/ln'), b('caf', 0xe9), 'd')).toBe(true);
    expect(linkStaysInside(b('d/', 0xff, '/ln'), b('../../', 0xfe), 'd')).toBe(false);
    expect(rebaseEntry(b(0xff, '/', 0xfe), b('caf', 0xe9))).toBe(b('caf', 0xe9, '/', 0xfe));
    expect(b('caf', 0xe9)).not.toBe(b('caf', 0xe8));
  });
});

describe('names as bytes', () => {
  it('refuses a host path from the command line with U+FFFD (a byte that was not UTF-8, as Node reads argv)', () => {
    expect(hostArgNotUtf8('/tmp/café')).toBeNull();
    expect(hostArgNotUtf8('/tmp/caf\uFFFD')?.error).toBe(
      'the host path /tmp/caf\uFFFD is not UTF-8 (or holds U+FFFD, which Node puts for every byte of the command line that is not): cp would use another name',
    );
  });
  it('rawName gives a JS string as its UTF-8 bytes, one character each', () => {
    expect(rawName('café')).toBe('caf\xc3\xa9');
    expect(rawName('/tmp/x')).toBe('/tmp/x');
  });
  it('showName shows UTF-8 as is, and every other byte, control characters and then backslashes escaped', () => {
    expect(showName('caf\xc3\xa9')).toBe('café');
    expect(showName('a\\b')).toBe('a\\b');
    expect(showName('caf\xe9')).toBe('caf\\xE9');
    expect(showName('d/\xff')).toBe('d/\\xFF');
    expect(showName('\xc3\xa9\xe9\\')).toBe('é\\xE9\\\\');
    expect(showName('line\nbreak')).toBe('line\\x0Abreak');
    expect(showName('\xf0\x9f\x98\x80\xf0\x9f')).toBe('😀\\xF0\\x9F');
  });
});
