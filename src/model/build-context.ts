// The content hash of a build context, honouring .dockerignore exactly as Docker reads it
// (@balena/dockerignore is a port of Docker's own matcher). The hash decides whether a rebuild
// is due; the per-file hashes let a plan say which files changed. Only folders, regular files
// and symlinks (hashed by their target's name, never followed) may be in a context: a FIFO,
// socket or device that .dockerignore lets through is refused (BuildContextError), and is never
// opened for reading (a FIFO with no writer would block the read forever).
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readFileSync, readdirSync, readlinkSync, type Dirent, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import dockerignoreModule, { type Ignore } from '@balena/dockerignore';

// A CommonJS module whose types say `export default`: under Node's ESM loader the default
// import is module.exports, the factory itself.
const dockerignore = dockerignoreModule as unknown as (options?: { ignorecase?: boolean }) => Ignore;
type Matcher = Ignore;

export interface BuildContextDigest {
  /** Hash over every included file's path, mode and content, plus the Dockerfile name and args. */
  hash: string;
  /** Relative path → short content hash, for naming changed files. */
  files: Record<string, string>;
}

/**
 * A build context that cannot be read as one: a special file in it, or a file system error.
 * `message` names the file; `hint` says what to do. resolve.ts turns it into a diagnostic.
 */
export class BuildContextError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'BuildContextError';
    this.hint = hint;
  }
}

export function digestBuildContext(context: string, dockerfile: string, args: Record<string, string>): BuildContextDigest {
  const files: Record<string, string> = {};
  const total = createHash('sha256');
  for (const rel of listContextFiles(context)) {
    const { content, mode } = readEntry(context, rel);
    const h = createHash('sha256').update(content).digest('hex').slice(0, 16);
    files[rel] = h;
    total.update(`${rel}\0${(mode & 0o777).toString(8)}\0${h}\n`);
  }
  total.update(`dockerfile\0${dockerfile}\n`);
  for (const key of Object.keys(args).sort()) total.update(`arg\0${key}\0${args[key]}\n`);
  return { hash: total.digest('hex'), files };
}

/**
 * What is hashed of one listed entry: a symlink's target name, or a regular file's content.
 * The file is opened without following a symlink and without blocking, and checked on the open
 * descriptor, so one swapped for a FIFO since it was listed is refused, not read.
 */
function readEntry(context: string, rel: string): { content: Buffer; mode: number } {
  const abs = join(context, rel);
  return contextIo(context, rel, () => {
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) return { content: Buffer.from(`symlink:${readlinkSync(abs)}`), mode: st.mode };
    const fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const opened = fstatSync(fd);
      if (!opened.isFile()) throw specialFile(context, rel, opened);
      return { content: readFileSync(fd), mode: opened.mode };
    } finally {
      closeSync(fd);
    }
  });
}

/** Included files, sorted, as posix paths relative to the context; a special file included is a BuildContextError. */
export function listContextFiles(context: string): string[] {
  const ignorePath = join(context, '.dockerignore');
  const ig = dockerignore({ ignorecase: false });
  const ignoreText = contextIo(context, '.dockerignore', () => (existsSync(ignorePath) ? readEntry(context, '.dockerignore').content.toString('utf8') : null));
  if (ignoreText !== null) ig.add(ignoreText);
  return listFiles(context, '', ig);
}

function listFiles(root: string, rel: string, ig: Matcher): string[] {
  const out: string[] = [];
  const entries = contextIo(root, rel || '.', () => readdirSync(join(root, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = rel ? posix.join(rel, entry.name) : entry.name;
    if (entry.isDirectory()) {
      // Docker can re-include files under an ignored folder (`!dir/keep`), so always descend.
      out.push(...listFiles(root, path, ig));
    } else if (!ig.ignores(path)) {
      if (!entry.isFile() && !entry.isSymbolicLink()) throw specialFile(root, path, entry);
      out.push(path);
    }
  }
  return out;
}

function specialFile(context: string, rel: string, entry: Dirent | Stats): BuildContextError {
  const kind = entry.isFIFO()
    ? 'a FIFO (named pipe)'
    : entry.isSocket()
      ? 'a socket'
      : entry.isCharacterDevice()
        ? 'a character device'
        : entry.isBlockDevice()
          ? 'a block device'
          : 'not a regular file';
  return new BuildContextError(
    `build context ${context} holds ${rel}, which is ${kind}: a build context may hold only folders, files and symlinks`,
    `remove ${rel} from the context, or list it in ${join(context, '.dockerignore')}`,
  );
}

/** Runs a read of the context; a file system error becomes a BuildContextError naming the file. */
function contextIo<T>(context: string, rel: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof BuildContextError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (typeof e?.code !== 'string') throw err;
    const why =
      e.code === 'EACCES' || e.code === 'EPERM'
        ? 'permission denied'
        : e.code === 'ELOOP'
          ? 'it became a symlink while it was read'
          : e.message.replace(/^[A-Z0-9_]+: /, '').replace(/, [a-z_]+ '.*'$/s, '');
    throw new BuildContextError(`cannot read ${rel} in build context ${context}: ${why} (${e.code})`, `make it readable, or list it in ${join(context, '.dockerignore')}`);
  }
}

/** Which files differ between two digests, for the plan's reason. */
export function changedFiles(before: Record<string, string>, after: Record<string, string>): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((n) => before[n] !== after[n]).sort();
}
