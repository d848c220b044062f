// The content hash of a build context, honouring .dockerignore exactly as Docker reads it
// (@balena/dockerignore is a port of Docker's own matcher). The hash decides whether a rebuild
// is due; the per-file hashes let a plan say which files changed.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, lstatSync, readlinkSync, existsSync } from 'node:fs';
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

export function digestBuildContext(context: string, dockerfile: string, args: Record<string, string>): BuildContextDigest {
  const files: Record<string, string> = {};
  const total = createHash('sha256');
  for (const rel of listContextFiles(context)) {
    const abs = join(context, rel);
    const st = lstatSync(abs);
    const content = st.isSymbolicLink() ? Buffer.from(`symlink:${readlinkSync(abs)}`) : readFileSync(abs);
    const h = createHash('sha256').update(content).digest('hex').slice(0, 16);
    files[rel] = h;
    total.update(`${rel}\0${(st.mode & 0o777).toString(8)}\0${h}\n`);
  }
  total.update(`dockerfile\0${dockerfile}\n`);
  for (const key of Object.keys(args).sort()) total.update(`arg\0${key}\0${args[key]}\n`);
  return { hash: total.digest('hex'), files };
}

/** Included files, sorted, as posix paths relative to the context. */
export function listContextFiles(context: string): string[] {
  const ignorePath = join(context, '.dockerignore');
  const ig = dockerignore({ ignorecase: false });
  if (existsSync(ignorePath)) ig.add(readFileSync(ignorePath, 'utf8'));
  return listFiles(context, '', ig);
}

function listFiles(root: string, rel: string, ig: Matcher): string[] {
  const out: string[] = [];
  const entries = readdirSync(join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = rel ? posix.join(rel, entry.name) : entry.name;
    if (entry.isDirectory()) {
      // Docker can re-include files under an ignored folder (`!dir/keep`), so always descend.
      out.push(...listFiles(root, path, ig));
    } else if (!ig.ignores(path)) {
      out.push(path);
    }
  }
  return out;
}

/** Which files differ between two digests, for the plan's reason. */
export function changedFiles(before: Record<string, string>, after: Record<string, string>): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((n) => before[n] !== after[n]).sort();
}
