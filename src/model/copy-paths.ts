// The pure path logic of `sandboxshift cp`: which argument names the sandbox, what a container
// path means (relative to /workspace, confined to the reachable roots), where a copy lands
// (docker cp's rules), and whether a tar entry or a symlink stays inside the copied tree.
//
// Entry names, link targets and the host paths built from them are byte strings (one character
// per byte, latin1), so a name that is not UTF-8 is checked and written byte for byte: `/` and
// `.` are those bytes, and no two names decode to one (UTF-8 decoding turned every invalid byte
// into U+FFFD). The checks below work on them as on any string.
import { isUtf8 } from 'node:buffer';
import { posix } from 'node:path';
import { WORKSPACE_PATH } from './names.js';

/**
 * The folders inside a sandbox that cp may read or write: /workspace and the environment's
 * declared extra volumes (`volumes: {NAME: /path}`), normalized.
 */
export function reachableRoots(volumes: Readonly<Record<string, string>> = {}): string[] {
  const extra = Object.values(volumes).map((p) => posix.normalize(p).replace(/(.)\/+$/, '$1'));
  return [...new Set([WORKSPACE_PATH, ...extra])];
}

export type CpArg = { kind: 'host'; path: string } | { kind: 'env'; env: string; path: string };

/** docker cp's rule: a path that starts with `/` or `.` is local; otherwise `NAME:path` names a sandbox. */
export function parseCpArg(arg: string): CpArg {
  if (arg.startsWith('/') || arg.startsWith('.')) return { kind: 'host', path: arg };
  const m = /^([^/:]+):(.*)$/s.exec(arg);
  return m ? { kind: 'env', env: m[1]!, path: m[2]! } : { kind: 'host', path: arg };
}

/** `ENV:path` as an absolute container path, `..` resolved lexically, the user's trailing `/` or `/.` kept apart. */
export function containerPath(path: string): { abs: string; trailingSlash: boolean; contentsOnly: boolean } {
  const joined = path.startsWith('/') ? path : posix.join(WORKSPACE_PATH, path);
  const abs = posix.normalize(joined).replace(/(.)\/+$/, '$1');
  return { abs, trailingSlash: /\/$/.test(path) || /(^|\/)\.$/.test(path), contentsOnly: /(^|\/)\.$/.test(path) };
}

/** True when `abs` (normalized, absolute) is one of the roots or inside one. */
export function underRoots(abs: string, roots: readonly string[]): boolean {
  return roots.some((root) => abs === root || abs.startsWith(`${root}/`));
}

export function rootsText(roots: readonly string[]): string {
  return roots.join(', ');
}

/** The file system facts the landing rules need about the destination. */
export type Existing = 'dir' | 'file' | 'missing';

export type Landing = { ok: true; dir: string; name: string | null } | { ok: false; error: string };

/**
 * Where a copy lands, by docker cp's rules (cli/command/container/cp.go, pkg/archive
 * CopyInfoDestinationPath): a file into an existing folder keeps its name; onto an existing file
 * it replaces it; to a missing path it takes that name (the parent must exist; a trailing `/`
 * means "a folder that must exist"). A folder into an existing folder lands inside it (or only
 * its contents with `SRC/.`); to a missing path it is created with that name; onto a file it is
 * refused. `name: null` means the source's entries land in `dir` unrenamed (contents only).
 */
export function landing(
  source: { isDir: boolean; name: string; contentsOnly: boolean },
  dest: { path: string; trailingSlash: boolean; existing: Existing; parentExisting: Existing },
  dirname: (p: string) => string,
  basename: (p: string) => string,
): Landing {
  if (dest.existing === 'dir') {
    if (source.isDir && source.contentsOnly) return { ok: true, dir: dest.path, name: null };
    return { ok: true, dir: dest.path, name: source.name };
  }
  if (dest.existing === 'file') {
    if (source.isDir) return { ok: false, error: `cannot copy a folder onto the file ${dest.path}` };
    if (dest.trailingSlash) return { ok: false, error: `${dest.path} is a file, not a folder` };
    return { ok: true, dir: dirname(dest.path), name: basename(dest.path) };
  }
  if (dest.trailingSlash && !source.isDir) return { ok: false, error: `destination folder ${dest.path} does not exist` };
  if (dest.parentExisting === 'missing') return { ok: false, error: `destination parent folder ${dirname(dest.path)} does not exist` };
  if (dest.parentExisting === 'file') return { ok: false, error: `destination parent ${dirname(dest.path)} is a file, not a folder` };
  return { ok: true, dir: dirname(dest.path), name: basename(dest.path) };
}

/**
 * A tar entry's name made relative and checked: null when it is absolute or climbs out with
 * `..` (such an entry is refused, never written).
 */
export function safeEntryName(name: string): string | null {
  if (name.startsWith('/') || name.includes('\0')) return null;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return null;
  return parts.join('/');
}

/**
 * Whether a symlink at `entry` (relative to the copied tree's parent, e.g. `dir/a/link`) with
 * target `target` stays inside the copied tree (`top`, e.g. `dir`), walked one component at a
 * time: absolute targets, and relative ones that climb out of it even for a moment (`../dir/x`
 * is the host's sibling once the copy lands under another name), do not. `readlink` gives the
 * target of another entry of the tree that is a symlink (null when it is none): the walk follows
 * them, since lexically `x -> y/y/../..` stays inside while with `y -> .` it is the tree's
 * grandparent.
 */
export function linkStaysInside(entry: string, target: string, top: string, readlink: (rel: string) => string | null = () => null): boolean {
  const stack = posix
    .dirname(entry)
    .split('/')
    .filter((p) => p !== '' && p !== '.');
  if (stack[0] !== top || target === '' || target.startsWith('/')) return false;
  let pending = target.split('/');
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length <= 1) return false;
      stack.pop();
      continue;
    }
    stack.push(part);
    const next = readlink(stack.join('/'));
    if (next === null) continue;
    // Absolute, empty, or a loop (the kernel gives up after 40 links too).
    if (next === '' || next.startsWith('/') || ++hops > MAX_LINK_HOPS) return false;
    stack.pop();
    pending = [...next.split('/'), ...pending];
  }
  return true;
}

const MAX_LINK_HOPS = 40;

/** Replaces the first path component of a tar entry (the source's own name) by `name`, or drops it when `name` is null. */
export function rebaseEntry(entry: string, name: string | null): string {
  const slash = entry.indexOf('/');
  const rest = slash === -1 ? '' : entry.slice(slash + 1);
  if (name === null) return rest;
  return rest ? `${name}/${rest}` : name;
}

/**
 * Why a host path from the command line cannot be used: Node reads argv as UTF-8, each byte that
 * is not UTF-8 becoming U+FFFD, so such a path would name another file (`caf\xE9` typed, `caf\uFFFD`
 * written). A path that really holds U+FFFD is refused too: the two look alike here.
 */
export function hostArgNotUtf8(arg: string): { error: string; hint: string } | null {
  if (!arg.includes('\uFFFD')) return null;
  return {
    error: `the host path ${arg} is not UTF-8 (or holds U+FFFD, which Node puts for every byte of the command line that is not): cp would use another name`,
    hint: 'name the folder that holds it instead: the names inside a copied folder keep their bytes, both ways',
  };
}

/** A JS string (a path the user typed, a name from argv) as the byte string of its UTF-8 bytes. */
export function rawName(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/**
 * A byte string as a message shows it: as is when it is UTF-8 without control characters;
 * otherwise each byte that is not part of a UTF-8 character, and each control character, as
 * `\xNN`, and a backslash as `\\` (so `caf\xE9` is the byte 0xE9, never the text).
 */
export function showName(raw: string): string {
  const b = Buffer.from(raw, 'latin1');
  if (isUtf8(b) && !b.some((c) => c < 0x20 || c === 0x7f)) return b.toString('utf8');
  const hex = (c: number) => `\\x${c.toString(16).toUpperCase().padStart(2, '0')}`;
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (n > 1 && i + n <= b.length && isUtf8(b.subarray(i, i + n))) {
      out += b.toString('utf8', i, i + n);
      i += n;
      continue;
    }
    out += c < 0x20 || c >= 0x7f ? hex(c) : c === 0x5c ? '\\\\' : String.fromCharCode(c);
    i++;
  }
  return out;
}
