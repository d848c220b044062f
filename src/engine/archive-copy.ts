// `sandboxshift cp` through the engine's archive API (HEAD stat, GET and PUT /archive), so a
// remote engine and a stopped container both work. Nothing is held whole in memory: tar entries
// stream one at a time, each waiting for the other side to take the bytes.
import { accessSync, chmodSync, constants, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, unlinkSync, utimesSync, type Stats } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { linkStaysInside, rebaseEntry, rootsText, safeEntryName, underRoots, type Existing } from '../model/copy-paths.js';
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
  /** The root the path is under was there (a volume's mount point always is, in a container of ours). */
  rootExists: boolean;
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
  const rootExists = kind !== 'missing';
  let parentKind: Existing = 'dir';
  for (let i = 0; i < parts.length; i++) {
    if (kind === 'missing') return { real: posix.join(cur, ...parts.slice(i)), existing: 'missing', parentExisting: i === parts.length - 1 ? kind : 'missing', rootExists };
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
  return { real: cur, existing: kind, parentExisting: parts.length === 0 ? 'dir' : parentKind, rootExists };
}

export function outsideMessage(shown: string, abs: string, roots: readonly string[]): string {
  return `refused: ${shown} is ${abs}, outside ${rootsText(roots)}; cp reaches only ${rootsText(roots)} inside a sandbox`;
}

export interface CopyTotals {
  files: number;
  bytes: number;
}

interface HostEntry {
  rel: string;
  abs: string;
  st: Stats;
  linkname?: string;
}

/**
 * The host side of a copy in, walked before a byte is sent: every entry is a file, folder or
 * symlink that stays inside the copied tree; anything else (a device such as /dev/zero, a FIFO,
 * a socket, a symlink pointing out) is refused with its path.
 */
export function scanHostSource(src: string): HostEntry[] {
  const top = lstatSync(src);
  const topName = posix.basename(src.split(sep).join('/')) || '.';
  const out: HostEntry[] = [];
  const visit = (abs: string, rel: string, st: Stats) => {
    if (st.isSymbolicLink()) {
      const target = readlinkSync(abs);
      // The tree a symlink must stay in: the copied folder, or for a lone link, the folder holding it.
      const tree = top.isDirectory() ? topName : '';
      const inside = tree === '' ? !target.startsWith('/') && !posix.normalize(target).startsWith('..') && posix.normalize(target) !== '.' : linkStaysInside(rel, target, tree);
      if (!inside) throw new CopyRefused(`refused: ${abs} is a symlink to ${target}, outside ${top.isDirectory() ? src : 'its folder'}; cp copies symlinks only when they point inside what is copied`);
      out.push({ rel, abs, st, linkname: target });
    } else if (st.isDirectory()) {
      out.push({ rel, abs, st });
      for (const name of readdirSync(abs).sort()) visit(join(abs, name), `${rel}/${name}`, lstatSync(join(abs, name)));
    } else if (st.isFile()) {
      out.push({ rel, abs, st });
    } else {
      throw new CopyRefused(`refused: ${abs} is ${specialKind(st)}; cp copies files, folders and symlinks only`);
    }
  };
  visit(src, topName, top);
  if (top.isDirectory()) {
    const links = new Map(out.filter((e) => e.linkname !== undefined).map((e) => [e.rel, e.linkname!]));
    for (const [rel, target] of links) {
      if (!linkStaysInside(rel, target, topName, (r) => links.get(r) ?? null)) {
        throw new CopyRefused(
          `refused: ${join(src, ...rel.split('/').slice(1))} is a symlink to ${target}, which leads outside ${src} through its symlinks; cp copies symlinks only when they point inside what is copied`,
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
  await archive.put(dir, async (send) => {
    const tar = new TarSender(send);
    for (const e of entries) {
      const entryName = rebaseEntry(e.rel, name);
      if (entryName === '') continue; // the folder itself when only its contents are copied
      const common = { name: entryName, uid, gid, mode: e.st.mode & 0o7777, mtime: e.st.mtime };
      if (e.linkname !== undefined) {
        await tar.entry({ ...common, type: 'symlink', linkname: e.linkname });
        totals.files++;
      } else if (e.st.isDirectory()) {
        await tar.entry({ ...common, type: 'directory' });
      } else {
        const size = e.st.size;
        await tar.file({ ...common, size }, e.abs, (got) => (shrank ??= { abs: e.abs, got, size }));
        totals.files++;
        totals.bytes += size;
      }
    }
    await tar.finish();
  });
  if (shrank) {
    const short = shrank;
    throw new CopyRefused(
      `${short.abs} shrank while it was copied (${short.got} of the ${short.size} bytes it had when the copy began); its copy in the sandbox was padded with zeros to that size: copy it again`,
    );
  }
  return totals;
}

/**
 * Streams the container path `real` out to the host folder `dir`, its top entry renamed to `name`
 * (or contents only when null). Entries that are absolute or climb out with `..`, symlinks that
 * point outside the copied tree, and entries that would be written through a symlink (one made
 * earlier by this archive or already on the host) are refused; the copy stops there.
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
  const opened = new Set<string>();
  const onEntry = (header: TarHeader): EntrySink | null => {
    const raw = safeEntryName(header.name);
    if (raw === null || raw === '') throw new CopyRefused(`refused: the archive of ${real} has an entry named ${JSON.stringify(header.name)} that would land outside ${dir}; the copy stopped there`);
    top ??= raw.split('/')[0]!;
    if (raw !== top && !raw.startsWith(`${top}/`)) throw new CopyRefused(`refused: the archive of ${real} has an entry ${raw} outside its folder ${top}; the copy stopped there`);
    const rel = rebaseEntry(raw, name);
    const target = rel === '' ? dir : join(dir, ...rel.split('/'));
    refuseThroughSymlink(dir, rel, real);
    const mode = header.mode & 0o777;
    switch (header.type) {
      case 'directory': {
        const st = lstatOrNull(target);
        if (st?.isSymbolicLink()) throw new CopyRefused(`refused: ${target} is a symlink on the host; the folder ${raw} from ${real} is never written through it; the copy stopped there`);
        if (st && !st.isDirectory()) throw new CopyRefused(`cannot copy the folder ${raw} onto the file ${target}`);
        if (!st) mkdirSync(target);
        dirModes.push({ path: target, mode, mtime: header.mtime });
        return null;
      }
      case 'file':
      case 'contiguous-file': {
        if (lstatOrNull(target)?.isDirectory()) throw new CopyRefused(`cannot copy the file ${raw} onto the folder ${target}`);
        if (opened.has(target)) throw new CopyRefused(`refused: the archive of ${real} has the file ${raw} twice; the copy stopped there`);
        const fresh = makeRoomForFile(target, raw);
        opened.add(target);
        totals.files++;
        totals.bytes += header.size;
        return files.open(target, mode, header.mtime, fresh);
      }
      case 'symlink': {
        const linkname = header.linkname;
        if (!linkStaysInside(raw, linkname, top)) {
          throw new CopyRefused(
            `refused: ${posix.join(posix.dirname(real), raw)} is a symlink to ${linkname}, outside the copied folder ${posix.join(posix.dirname(real), top)}; the copy stopped there`,
          );
        }
        removeIfLink(target);
        if (lstatOrNull(target)) throw new CopyRefused(`cannot replace ${target} by a symlink: it exists`);
        symlinkSync(linkname, target);
        links.push({ raw, linkname, target });
        totals.files++;
        return null;
      }
      case 'link': {
        const linked = safeEntryName(header.linkname);
        if (linked === null || (linked !== top && !linked.startsWith(`${top}/`)))
          throw new CopyRefused(`refused: ${raw} is a hard link to ${header.linkname}, outside the copied folder; the copy stopped there`);
        const from = rebaseEntry(linked, name);
        refuseThroughSymlink(dir, from, real);
        removeIfLink(target);
        linkSync(join(dir, ...from.split('/')), target);
        // A hard link to a symlink is that symlink again (link(2) does not follow it): walked at the end too.
        if (lstatOrNull(target)?.isSymbolicLink()) links.push({ raw, linkname: readlinkSync(target), target });
        totals.files++;
        return null;
      }
      default:
        throw new CopyRefused(`refused: ${posix.join(posix.dirname(real), raw)} is a ${header.type}; cp copies files, folders and symlinks only; the copy stopped there`);
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
  await refuseLinksLeadingOut(links, top, dir, name, real);
  // Folder modes last: a read-only folder would refuse its own contents.
  for (const d of dirModes.reverse()) {
    chmodSync(d.path, d.mode);
    utimesSync(d.path, d.mtime, d.mtime);
  }
  return totals;
}

/**
 * Each symlink the copy made, walked again now that the whole tree is on the host: one that
 * leaves the tree through the tree's other symlinks (`y -> .`, `x -> y/y/../..`) is removed and
 * refused.
 */
async function refuseLinksLeadingOut(links: Array<{ raw: string; linkname: string; target: string }>, top: string | null, dir: string, name: string | null, real: string): Promise<void> {
  if (top === null) return;
  const onHost = (rel: string) => {
    const landed = rebaseEntry(rel, name);
    const path = landed === '' ? dir : join(dir, ...landed.split('/'));
    const st = lstatSync(path, { throwIfNoEntry: false });
    return st?.isSymbolicLink() ? readlinkSync(path) : null;
  };
  const out = links.filter((l) => !linkStaysInside(l.raw, l.linkname, top, onHost));
  for (const l of out) await unlink(l.target);
  const first = out[0];
  if (first) {
    const base = posix.dirname(real);
    throw new CopyRefused(
      `refused: ${posix.join(base, first.raw)} is a symlink to ${first.linkname}, which leads outside the copied folder ${posix.join(base, top)} through its symlinks; it was not kept`,
    );
  }
}

/** Refuses an entry whose parent folders (below the landing folder) include a symlink. */
function refuseThroughSymlink(dir: string, rel: string, real: string): void {
  const parts = rel.split('/').filter(Boolean);
  let cur = dir;
  for (const part of parts.slice(0, -1)) {
    cur = join(cur, part);
    const st = lstatOrNull(cur);
    if (st?.isSymbolicLink()) throw new CopyRefused(`refused: the archive of ${real} writes ${rel} through the symlink ${relative(dir, cur) || cur}; the copy stopped there`);
  }
}

function lstatOrNull(path: string): Stats | null {
  return lstatSync(path, { throwIfNoEntry: false }) ?? null;
}

function removeIfLink(path: string): void {
  if (lstatOrNull(path)?.isSymbolicLink()) unlinkSync(path);
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
    unlinkSync(path);
    return true;
  }
  if (!st.isFile()) throw new CopyRefused(`refused: ${path} on the host is ${specialKind(st)}; the file ${raw} is never written into it; the copy stopped there`);
  try {
    accessSync(path, constants.W_OK);
  } catch {
    throw new CopyRefused(
      `cannot replace ${path} on the host by ${raw}: it is not writable (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`,
      'make it writable or remove it, then copy again',
    );
  }
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return false;
    throw err;
  }
}
