// Makes any uid:gid a real user of a created, never-started container, from outside, through
// the engine's archive API (so remote engines, runc and runsc all work, and nothing inside
// needs a capability or setuid): an /etc/passwd and /etc/group entry when the image has none
// for the ids, a home directory it owns, and the roots of the environment's volumes owned by
// it. Only a root is re-owned, never what is inside: files in an existing volume keep theirs.
//
// The engine ignores a `./` entry's owner when it unpacks into an existing directory, so each
// root is written as its own entry (`workspace/`) unpacked at `/`, which it does apply: owner,
// mode and mtime, on the mounted volume's root.
import { extract, pack } from 'tar-stream';
import { posix } from 'node:path';
import { accountFor } from '../model/user-entries.js';
import { statusCode, type Docker } from './client.js';
import { pauseForTest } from './test-pause.js';

type Container = ReturnType<Docker['getContainer']>;

interface PathStat {
  isDir: boolean;
  isLink: boolean;
  /** Permission bits with setgid and sticky, as tar wants them. */
  mode: number;
  mtime: Date;
}

interface ImageFile {
  text: string;
  mode: number;
  uid: number;
  gid: number;
}

interface Entry {
  name: string;
  type: 'file' | 'directory';
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  body?: string;
}

/**
 * Sets up uid:gid in the container before its first start. `ownedRoots` are the absolute mount
 * paths whose root the user gets (the /workspace volume unless adopted; never a host folder).
 */
export async function prepareUser(docker: Docker, containerId: string, uid: number, gid: number, ownedRoots: readonly string[]): Promise<void> {
  await pauseForTest('user-setup');
  const c = docker.getContainer(containerId);
  // Each archive call makes the engine mount the container's filesystems: the reads go at once.
  const [passwd, group, roots] = await Promise.all([readImageFile(c, '/etc/passwd'), readImageFile(c, '/etc/group'), Promise.all(ownedRoots.map((r) => statPath(c, r)))]);
  const account = accountFor(passwd?.text ?? '', group?.text ?? '', uid, gid);
  const now = new Date();
  const entries: Entry[] = [];
  if (account.passwd !== null || account.group !== null) entries.push(...(await missingParents(c, '/etc/passwd', now)));
  if (account.passwd !== null) entries.push(fileEntry('etc/passwd', account.passwd, passwd, now));
  if (account.group !== null) entries.push(fileEntry('etc/group', account.group, group, now));
  const home = posix.normalize(account.home || '/');
  if (home !== '/' && home.startsWith('/') && !(await statPath(c, home))) {
    entries.push(...(await missingParents(c, home, now)), { name: `${home.slice(1)}/`, type: 'directory', mode: 0o755, uid, gid, mtime: now });
  }
  for (const [i, root] of ownedRoots.entries()) {
    const st = roots[i] ?? null;
    if (st && !st.isDir) throw new Error(`cannot give ${root} to user ${uid}:${gid}: it is not a directory in the container`);
    entries.push({ name: `${posix.normalize(root).slice(1)}/`, type: 'directory', mode: st?.mode ?? 0o755, uid, gid, mtime: st?.mtime ?? now });
  }
  if (entries.length === 0) return;
  await c.putArchive(await tarOf(entries), { path: '/' });
}

function fileEntry(name: string, text: string, was: ImageFile | null, mtime: Date): Entry {
  return { name, type: 'file', mode: was?.mode ?? 0o644, uid: was?.uid ?? 0, gid: was?.gid ?? 0, mtime, body: text };
}

/** Directory entries (root-owned, 0755) for every missing ancestor of `path`, outermost first. */
async function missingParents(c: Container, path: string, mtime: Date): Promise<Entry[]> {
  const out: Entry[] = [];
  for (let dir = posix.dirname(path); dir !== '/'; dir = posix.dirname(dir)) {
    if (await statPath(c, dir)) break;
    out.unshift({ name: `${dir.slice(1)}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime });
  }
  return out;
}

/** The archive API's stat (a HEAD, no exec), or null when the path does not exist. */
async function statPath(c: Container, path: string): Promise<PathStat | null> {
  let res: { headers: Record<string, string | undefined>; resume(): void };
  try {
    res = (await c.infoArchive({ path })) as typeof res;
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
  res.resume();
  const header = res.headers['x-docker-container-path-stat'];
  if (!header) throw new Error(`the engine answered no stat for ${path}`);
  const st = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { mode: number; mtime: string; linkTarget?: string };
  // Go's FileMode: ModeDir 1<<31, ModeSymlink 1<<27, ModeSetgid 1<<22, ModeSticky 1<<20.
  const bit = (n: number) => Math.floor(st.mode / 2 ** n) % 2 === 1;
  const mtime = new Date(st.mtime);
  return {
    isDir: bit(31),
    isLink: bit(27) || !!st.linkTarget,
    mode: (st.mode % 0o1000) + (bit(22) ? 0o2000 : 0) + (bit(20) ? 0o1000 : 0),
    mtime: Number.isFinite(mtime.getTime()) ? mtime : new Date(),
  };
}

/** One of the image's account files, or null when it has none. A file that is not regular is refused. */
async function readImageFile(c: Container, path: string): Promise<ImageFile | null> {
  let archive: NodeJS.ReadableStream;
  try {
    archive = await c.getArchive({ path });
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
  const ex = extract();
  archive.on('error', (err: Error) => ex.destroy(err));
  archive.pipe(ex);
  let found: ImageFile | null = null;
  let type: string | null = null;
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (type !== null) continue;
    type = entry.header.type ?? 'file';
    if (type === 'file') {
      const h = entry.header;
      found = { text: Buffer.concat(chunks).toString('utf8'), mode: (h.mode ?? 0o644) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0 };
    }
  }
  if (type !== null && type !== 'file') {
    throw new Error(`the image's ${path} is a ${type}, not a file: SandboxShift adds the environment's user to it and will not write through a link; make it a regular file in the image`);
  }
  return found;
}

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const { body, ...header } of entries) {
    if (body === undefined) p.entry(header);
    else p.entry({ ...header, size: Buffer.byteLength(body) }, body);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
