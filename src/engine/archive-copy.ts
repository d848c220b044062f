// `sandboxshift cp` through the engine's archive API (HEAD stat, GET and PUT /archive), so a
// remote engine and a stopped container both work. Nothing is held whole in memory: tar entries
// stream one at a time, each waiting for the other side to take the bytes.
//
// Names are bytes end to end: tar names, the host paths made from them and the host paths a copy
// in reads are byte strings (one character per byte, see model/copy-paths.ts), handed to node:fs
// as Buffers (hostBytes) and shown escaped (showName), so `caf\xE9` lands as those bytes, both
// ways, and two names never become one. Host paths from the command line (UTF-8 strings) become
// byte strings with rawName.
import { accessSync, chmodSync, constants, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, unlinkSync, utimesSync, type Stats } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { linkStaysInside, rawName, rebaseEntry, rootsText, safeEntryName, showName, underRoots, type Existing } from '../model/copy-paths.js';
import type { ArchiveClient, PathStat } from './archive-client.js';
import { TarReader, type EntrySink, type TarHeader } from './tar.js';
import { TarSender } from './tar-send.js';
import { FileWriter } from './file-writer.js';

/** A copy refused or impossible for a reason the user can act on; the message names the path. */
export class CopyRefused extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CopyRefused';
  }
}

// Go's os.FileMode bits, as the engine reports them.
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const hasBit = (mode: number, bit: number) => Math.floor(mode / bit) % 2 === 1;

export interface ResolvedContainerPath {
  /** The path with every symlink on it followed (all of them inside the roots). */
  real: string;
  existing: Existing;
  parentExisting: Existing;
}

const kindOf = (st: PathStat | null): Existing => (st === null ? 'missing' : hasBit(st.mode, MODE_DIR) ? 'dir' : 'file');

/**
 * Follows `abs` one component at a time from its root, asking the engine about each; a symlink
 * anywhere on it that resolves outside the roots is refused, naming it. `shown` is what the user
 * typed, for messages.
 */
export async function resolveContainerPath(archive: ArchiveClient, abs: string, roots: readonly string[], shown: string): Promise<ResolvedContainerPath> {
  const root = roots.find((r) => abs === r || abs.startsWith(`${r}/`));
  if (!root) throw new CopyRefused(outsideMessage(shown, abs, roots));
  const parts = abs.slice(root.length).split('/').filter(Boolean);
  // Every prefix of the path is asked about at once (one round trip, not one per component);
  // the walk below still decides from them one at a time, and asks again where a symlink leads.
  const asked = new Map<string, Promise<PathStat | null>>();
  const stat = (path: string) => {
    let answer = asked.get(path);
    if (!answer) {
      answer = archive.stat(path);
      answer.catch(() => undefined);
      asked.set(path, answer);
    }
    return answer;
  };
  let prefix = root;
  void stat(prefix);
  for (const part of parts) void stat((prefix = `${prefix}/${part}`));
  let cur = root;
  let kind = kindOf(await stat(root));
  let parentKind: Existing = 'dir';
  for (let i = 0; i < parts.length; i++) {
    if (kind === 'missing') return { real: posix.join(cur, ...parts.slice(i)), existing: 'missing', parentExisting: i === parts.length - 1 ? kind : 'missing' };
    if (kind === 'file') throw new CopyRefused(`${shown}: ${cur} is a file, not a folder`);
    const next = `${cur}/${parts[i]}`;
    const st = await stat(next);
    parentKind = kind;
    if (st && hasBit(st.mode, MODE_SYMLINK)) {
      const target = posix.normalize(st.linkTarget || '/');
      if (!underRoots(target, roots)) {
        throw new CopyRefused(`refused: ${shown} goes through the symlink ${next} that points to ${target}, outside ${rootsText(roots)}; cp reaches only ${rootsText(roots)} inside a sandbox`);
      }
      cur = target;
      kind = kindOf(await stat(target));
      if (kind === 'missing') parentKind = kindOf(await stat(posix.dirname(target)));
    } else {
      cur = next;
      kind = kindOf(st);
    }
  }
  return { real: cur, existing: kind, parentExisting: parts.length === 0 ? 'dir' : parentKind };
}

export function outsideMessage(shown: string, abs: string, roots: readonly string[]): string {
  return `refused: ${shown} is ${abs}, outside ${rootsText(roots)}; cp reaches only ${rootsText(roots)} inside a sandbox`;
}

export interface CopyTotals {
  files: number;
  bytes: number;
}

interface HostEntry {
  /** Byte strings, as are all names here. */
  rel: string;
  abs: string;
  st: Stats;
  linkname?: string;
}

/** A host path that is a byte string, as node:fs takes it. */
const hostBytes = (raw: string): Buffer => Buffer.from(raw, 'latin1');

/**
 * `call` on the host path `raw` (a byte string) as a Buffer. Its error names the path as
 * showName shows it (node:fs decodes a Buffer path with U+FFFD for its message).
 */
function onHost<T>(raw: string, call: (path: Buffer) => T): T {
  try {
    return call(hostBytes(raw));
  } catch (err) {
    throw namedFor(err, raw);
  }
}

function namedFor(err: unknown, raw: string): Error {
  const e = err as NodeJS.ErrnoException & { dest?: string };
  if (typeof e?.code === 'string' && typeof e.path === 'string') {
    e.path = showName(raw);
    delete e.dest;
    e.message = e.message.replace(/, [a-z_]+ '.*'$/s, `, ${e.syscall ?? 'use'} '${e.path}'`);
  }
  return e;
}

function lstatOrNull(path: string): Stats | null {
  return onHost(path, (p) => lstatSync(p, { throwIfNoEntry: false })) ?? null;
}

/** The file system object at `path` (device and inode), or null. */
function identity(path: string): string | null {
  const st = onHost(path, (p) => lstatSync(p, { bigint: true, throwIfNoEntry: false }));
  return st ? `${st.dev}:${st.ino}` : null;
}

/**
 * The host side of a copy in, walked before a byte is sent: every entry is a file, folder or
 * symlink that stays inside the copied tree; anything else (a device such as /dev/zero, a FIFO,
 * a socket, a symlink pointing out) is refused with its path.
 */
export function scanHostSource(srcPath: string): HostEntry[] {
  const src = rawName(srcPath);
  const top = onHost(src, (p) => lstatSync(p));
  const topName = posix.basename(src.split(sep).join('/')) || '.';
  const out: HostEntry[] = [];
  const visit = (abs: string, rel: string, st: Stats) => {
    if (st.isSymbolicLink()) {
      const target = onHost(abs, (p) => readlinkSync(p, { encoding: 'buffer' })).toString('latin1');
      // The tree a symlink must stay in: the copied folder, or for a lone link, the folder holding it.
      const tree = top.isDirectory() ? topName : '';
      const inside = tree === '' ? !target.startsWith('/') && !posix.normalize(target).startsWith('..') && posix.normalize(target) !== '.' : linkStaysInside(rel, target, tree);
      if (!inside)
        throw new CopyRefused(
          `refused: ${showName(abs)} is a symlink to ${showName(target)}, outside ${top.isDirectory() ? showName(src) : 'its folder'}; cp copies symlinks only when they point inside what is copied`,
        );
      out.push({ rel, abs, st, linkname: target });
    } else if (st.isDirectory()) {
      out.push({ rel, abs, st });
      const names = onHost(abs, (p) => readdirSync(p, { encoding: 'buffer' })).map((b) => b.toString('latin1'));
      for (const name of names.sort()) {
        const path = join(abs, name);
        visit(
          path,
          `${rel}/${name}`,
          onHost(path, (p) => lstatSync(p)),
        );
      }
    } else if (st.isFile()) {
      out.push({ rel, abs, st });
    } else {
      throw new CopyRefused(`refused: ${showName(abs)} is ${specialKind(st)}; cp copies files, folders and symlinks only`);
    }
  };
  visit(src, topName, top);
  if (top.isDirectory()) {
    const links = new Map(out.filter((e) => e.linkname !== undefined).map((e) => [e.rel, e.linkname!]));
    for (const [rel, target] of links) {
      if (!linkStaysInside(rel, target, topName, (r) => links.get(r) ?? null)) {
        throw new CopyRefused(
          `refused: ${showName(join(src, ...rel.split('/').slice(1)))} is a symlink to ${showName(target)}, which leads outside ${showName(src)} through its symlinks; cp copies symlinks only when they point inside what is copied`,
        );
      }
    }
  }
  return out;
}

function specialKind(st: Stats): string {
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Streams `entries` into the container folder `dir`, the top entry renamed to `name` (or its
 * contents only when null), every entry owned by uid:gid and its mode kept.
 */
export async function copyIntoContainer(archive: ArchiveClient, entries: HostEntry[], dir: string, name: string | null, uid: number, gid: number): Promise<CopyTotals> {
  const totals: CopyTotals = { files: 0, bytes: 0 };
  let shrank: { abs: string; got: number; size: number } | undefined;
  const rawTop = name === null ? null : rawName(name);
  await archive.put(dir, async (send) => {
    const tar = new TarSender(send);
    for (const e of entries) {
      const entryName = rebaseEntry(e.rel, rawTop);
      if (entryName === '') continue; // the folder itself when only its contents are copied
      const common = { name: entryName, uid, gid, mode: e.st.mode & 0o7777, mtime: e.st.mtime };
      if (e.linkname !== undefined) {
        await tar.entry({ ...common, type: 'symlink', linkname: e.linkname });
        totals.files++;
      } else if (e.st.isDirectory()) {
        await tar.entry({ ...common, type: 'directory' });
      } else {
        const size = e.st.size;
        await tar
          .file({ ...common, size }, hostBytes(e.abs), (got) => (shrank ??= { abs: e.abs, got, size }))
          .catch((err: unknown) => {
            throw namedFor(err, e.abs);
          });
        totals.files++;
        totals.bytes += size;
      }
    }
    await tar.finish();
  });
  if (shrank) {
    const short = shrank;
    throw new CopyRefused(
      `${showName(short.abs)} shrank while it was copied (${short.got} of the ${short.size} bytes it had when the copy began); its copy in the sandbox was padded with zeros to that size: copy it again`,
    );
  }
  return totals;
}

/**
 * Streams the container path `real` out to the host folder `dir`, its top entry renamed to `name`
 * (or contents only when null). Entries that are absolute or climb out with `..`, symlinks that
 * point outside the copied tree, and entries that would be written through a symlink (one made
 * earlier by this archive or already on the host) are refused; the copy stops there. So is an
 * entry named twice, and one the host takes for another entry of the archive (a file system
 * that ignores case, or normalizes names): two entries never become one file.
 *
 * The checks and every change but file data run synchronously as the engine's bytes arrive, in
 * the archive's order; file data is written on the thread pool meanwhile (file-writer.ts), and
 * the socket waits when the writes fall behind.
 */
export async function copyOutOfContainer(archive: ArchiveClient, real: string, dir: string, name: string | null): Promise<CopyTotals> {
  const totals: CopyTotals = { files: 0, bytes: 0 };
  const dirModes: Array<{ path: string; mode: number; mtime: Date }> = [];
  const links: Array<{ raw: string; linkname: string; target: string }> = [];
  let top: string | null = null;
  const files = new FileWriter();
  // Byte strings from here on: the landing folder and name, and the archive's names.
  const into = rawName(dir);
  const rename = name === null ? null : rawName(name);
  const base = rawName(posix.dirname(real));
  const shownInside = (entry: string) => showName(posix.join(base, entry));
  // Each host object (device and inode) an entry made or landed in, with that entry: a later
  // entry that finds it there is the same name again, or a name the host takes for that one.
  const made = new Map<string, { raw: string; type: TarHeader['type'] }>();
  const remember = (target: string, raw: string, type: TarHeader['type']) => {
    const id = identity(target);
    if (id !== null && !made.has(id)) made.set(id, { raw, type });
  };
  const onEntry = (header: TarHeader): EntrySink | null => {
    const raw = safeEntryName(header.name);
    if (raw === null || raw === '') throw new CopyRefused(`refused: the archive of ${real} has an entry named "${showName(header.name)}" that would land outside ${dir}; the copy stopped there`);
    top ??= raw.split('/')[0]!;
    if (raw !== top && !raw.startsWith(`${top}/`)) throw new CopyRefused(`refused: the archive of ${real} has an entry ${showName(raw)} outside its folder ${showName(top)}; the copy stopped there`);
    const rel = rebaseEntry(raw, rename);
    const target = rel === '' ? into : join(into, ...rel.split('/'));
    refuseThroughSymlink(into, rel, real);
    const here = lstatOrNull(target);
    const before = here ? made.get(identity(target) ?? '') : undefined;
    if (before && before.raw !== raw) {
      throw new CopyRefused(
        `refused: the archive of ${real} has ${showName(before.raw)} and ${showName(raw)}, and the host file system takes both for ${showName(target)}; the copy stopped there`,
        'copy them to a file system that tells these names apart (one that does not ignore case or normalize names)',
      );
    }
    if (before && !(before.type === 'directory' && header.type === 'directory')) {
      const [was, now] = [kindWord(before.type), kindWord(header.type)];
      const what = was === now ? `the ${now} ${showName(raw)} twice` : `${showName(raw)} twice (a ${was}, then a ${now})`;
      throw new CopyRefused(`refused: the archive of ${real} has ${what}; the copy stopped there`);
    }
    const mode = header.mode & 0o777;
    switch (header.type) {
      case 'directory': {
        if (here?.isSymbolicLink())
          throw new CopyRefused(`refused: ${showName(target)} is a symlink on the host; the folder ${showName(raw)} from ${real} is never written through it; the copy stopped there`);
        if (here && !here.isDirectory()) throw new CopyRefused(`cannot copy the folder ${showName(raw)} onto the file ${showName(target)}`);
        if (!here) onHost(target, (p) => mkdirSync(p));
        remember(target, raw, header.type);
        dirModes.push({ path: target, mode, mtime: header.mtime });
        return null;
      }
      case 'file':
      case 'contiguous-file': {
        if (here?.isDirectory()) throw new CopyRefused(`cannot copy the file ${showName(raw)} onto the folder ${showName(target)}`);
        const fresh = makeRoomForFile(target, raw);
        const sink = onHost(target, (p) => files.open(p, mode, header.mtime, fresh));
        remember(target, raw, header.type);
        totals.files++;
        totals.bytes += header.size;
        return sink;
      }
      case 'symlink': {
        const linkname = header.linkname;
        if (!linkStaysInside(raw, linkname, top)) {
          throw new CopyRefused(`refused: ${shownInside(raw)} is a symlink to ${showName(linkname)}, outside the copied folder ${shownInside(top)}; the copy stopped there`);
        }
        removeIfLink(target);
        if (lstatOrNull(target)) throw new CopyRefused(`cannot replace ${showName(target)} by a symlink: it exists`);
        onHost(target, (p) => symlinkSync(hostBytes(linkname), p));
        remember(target, raw, header.type);
        links.push({ raw, linkname, target });
        totals.files++;
        return null;
      }
      case 'link': {
        const linked = safeEntryName(header.linkname);
        if (linked === null || (linked !== top && !linked.startsWith(`${top}/`)))
          throw new CopyRefused(`refused: ${showName(raw)} is a hard link to ${showName(header.linkname)}, outside the copied folder; the copy stopped there`);
        const from = rebaseEntry(linked, rename);
        refuseThroughSymlink(into, from, real);
        removeIfLink(target);
        const source = join(into, ...from.split('/'));
        onHost(target, (p) => linkSync(hostBytes(source), p));
        remember(target, raw, header.type);
        // A hard link to a symlink is that symlink again (link(2) does not follow it): walked at the end too.
        if (lstatOrNull(target)?.isSymbolicLink()) links.push({ raw, linkname: readlinkRaw(target), target });
        totals.files++;
        return null;
      }
      default:
        throw new CopyRefused(`refused: ${shownInside(raw)} is a ${header.type}; cp copies files, folders and symlinks only; the copy stopped there`);
    }
  };
  const reader = new TarReader(onEntry, real);
  try {
    await archive.get(real, (data) => {
      reader.feed(data);
      return files.wait() ?? undefined;
    });
    reader.end();
  } catch (err) {
    reader.close();
    await files.finish().catch(() => undefined);
    throw err;
  }
  await files.finish();
  await refuseLinksLeadingOut(links, top, into, rename, base);
  // Folder modes last: a read-only folder would refuse its own contents.
  for (const d of dirModes.reverse()) {
    onHost(d.path, (p) => {
      chmodSync(p, d.mode);
      utimesSync(p, d.mtime, d.mtime);
    });
  }
  return totals;
}

const KIND_WORDS: Partial<Record<TarHeader['type'], string>> = { file: 'file', 'contiguous-file': 'file', directory: 'folder', symlink: 'symlink', link: 'hard link' };
const kindWord = (type: TarHeader['type']): string => KIND_WORDS[type] ?? type;

const readlinkRaw = (path: string): string => onHost(path, (p) => readlinkSync(p, { encoding: 'buffer' })).toString('latin1');

/**
 * Each symlink the copy made, walked again now that the whole tree is on the host: one that
 * leaves the tree through the tree's other symlinks (`y -> .`, `x -> y/y/../..`) is removed and
 * refused. Names are byte strings; `base` is the container folder the copied tree is in.
 */
async function refuseLinksLeadingOut(links: Array<{ raw: string; linkname: string; target: string }>, top: string | null, dir: string, name: string | null, base: string): Promise<void> {
  if (top === null) return;
  const onHostLink = (rel: string) => {
    const landed = rebaseEntry(rel, name);
    const path = landed === '' ? dir : join(dir, ...landed.split('/'));
    return lstatOrNull(path)?.isSymbolicLink() ? readlinkRaw(path) : null;
  };
  const out = links.filter((l) => !linkStaysInside(l.raw, l.linkname, top, onHostLink));
  for (const l of out)
    await unlink(hostBytes(l.target)).catch((err: unknown) => {
      throw namedFor(err, l.target);
    });
  const first = out[0];
  if (first) {
    throw new CopyRefused(
      `refused: ${showName(posix.join(base, first.raw))} is a symlink to ${showName(first.linkname)}, which leads outside the copied folder ${showName(posix.join(base, top))} through its symlinks; it was not kept`,
    );
  }
}

/** Refuses an entry whose parent folders (below the landing folder) include a symlink. Byte strings. */
function refuseThroughSymlink(dir: string, rel: string, real: string): void {
  const parts = rel.split('/').filter(Boolean);
  let cur = dir;
  for (const part of parts.slice(0, -1)) {
    cur = join(cur, part);
    const st = lstatOrNull(cur);
    if (st?.isSymbolicLink()) throw new CopyRefused(`refused: the archive of ${real} writes ${showName(rel)} through the symlink ${showName(relative(dir, cur) || cur)}; the copy stopped there`);
  }
}

function removeIfLink(path: string): void {
  if (lstatOrNull(path)?.isSymbolicLink()) onHost(path, (p) => unlinkSync(p));
}

/**
 * Makes room for a file entry; true when the file is then made anew (opened O_EXCL), false when
 * a file already there is to be written in place. A symlink there is removed (never written
 * through). A file is removed and made anew, as docker cp does: truncated in place instead, ext4
 * writes the new data out at close (auto_da_alloc: 50 ms and more for 200 MB, nearly a fifth of a
 * copy out), and its other hard links would change with it. A file we may not write is refused,
 * as opening it for writing was (a folder's write permission is not consent to replace it); one
 * in a folder we may not change is written in place, as before. Anything else there (a FIFO, a
 * device, a socket) is refused: opening it could block or write into it.
 */
function makeRoomForFile(path: string, raw: string): boolean {
  const st = lstatOrNull(path);
  if (!st) return true;
  if (st.isSymbolicLink()) {
    onHost(path, (p) => unlinkSync(p));
    return true;
  }
  if (!st.isFile()) throw new CopyRefused(`refused: ${showName(path)} on the host is ${specialKind(st)}; the file ${showName(raw)} is never written into it; the copy stopped there`);
  try {
    accessSync(hostBytes(path), constants.W_OK);
  } catch {
    throw new CopyRefused(
      `cannot replace ${showName(path)} on the host by ${showName(raw)}: it is not writable (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`,
      'make it writable or remove it, then copy again',
    );
  }
  try {
    onHost(path, (p) => unlinkSync(p));
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return false;
    throw err;
  }
}
