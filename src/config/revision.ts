// The config file as it is at a git commit, for `diff`: read with `git show REF:PATH`
// (simple-git) and checked exactly like a file on disk. Diagnostics name it `REF:PATH`, the way
// git does, with the line and column inside that version. Relative paths in it (build contexts,
// workspace folders, secret files) still resolve against the working tree.
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { errorDiag, type Diagnostic } from '../diagnostics.js';
import { decodeConfigBytes } from './config-file.js';
import { configFileDiagnostic, loadConfig, validateConfigText, type LoadResult } from './load.js';

export interface ConfigRevision extends LoadResult {
  /** How the version is named in messages: `origin/main:sandboxshift.yaml`, or the path for the working tree. */
  label: string;
  /** The commit read, or for the working tree the commit it is on (null outside git or before the first commit). */
  commit: string | null;
}

/** Loads `file` as it is at `ref`, or in the working tree when `ref` is null. */
export async function loadConfigAt(file: string, ref: string | null): Promise<ConfigRevision> {
  const fail = (diagnostic: Diagnostic, label = file): ConfigRevision => ({ diagnostics: [diagnostic], label, commit: null });
  const absolute = resolve(file);
  const dir = dirname(absolute);
  if (!existsSync(dir)) return fail(errorDiag(`folder ${dirname(file)} does not exist`, { file, hint: 'pass --config with the config file inside your git checkout' }));
  if (ref !== null && (ref === '' || ref.startsWith('-'))) {
    return fail(errorDiag(`'${ref}' is not a git revision`, { hint: 'pass a branch, tag or commit, e.g. --from origin/main or --from HEAD~1' }));
  }
  const { simpleGit } = await import('simple-git');
  const git = simpleGit({ baseDir: dir });
  let root: string;
  try {
    root = await git.revparse(['--show-toplevel']);
  } catch (err) {
    return fail(
      errorDiag(`${dirname(file)} is not inside a git repository (${firstLine(err)})`, {
        file,
        hint: 'diff compares the config at two commits: run it in the repository that holds the config, or use `sandboxshift plan` against an engine',
      }),
    );
  }
  // Paths inside commits are relative to the repository root, with forward slashes.
  const path = relative(realpathSync(root), join(realpathSync(dir), basename(absolute)))
    .split(sep)
    .join('/');
  if (path.startsWith('../')) return fail(errorDiag(`${file} is outside the git repository at ${root}`, { file, hint: 'pass --config with a file inside the repository' }));
  if (ref === null) {
    const commit = await git.revparse(['--verify', '--quiet', 'HEAD']).catch(() => null);
    return { ...loadConfig(file), label: file, commit: commit || null };
  }
  let commit: string;
  try {
    commit = await git.revparse(['--verify', `${ref}^{commit}`]);
  } catch (err) {
    return fail(
      errorDiag(`unknown git revision '${ref}' (${firstLine(err)})`, {
        hint: 'check the name (`git log --oneline`, `git branch -a`); in CI fetch the history first (actions/checkout with fetch-depth: 0)',
      }),
    );
  }
  const label = `${ref}:${path}`;
  const type = await git.raw(['cat-file', '-t', `${commit}:${path}`]).catch(() => null);
  if (type?.trim() !== 'blob') {
    return fail(
      errorDiag(`${path} does not exist at ${ref}${type ? ` (it is a ${type.trim()})` : ''}`, {
        file: label,
        hint: `diff needs the config at both commits; check \`git ls-tree --name-only ${ref}\`, or pass --config with the file's path`,
      }),
      label,
    );
  }
  // Bytes, not git's text: a byte that is not UTF-8 would become U+FFFD on the way.
  const decoded = decodeConfigBytes(await git.showBuffer([`${commit}:${path}`]));
  if (decoded.problem) return fail(configFileDiagnostic(label, decoded.problem), label);
  const loaded = validateConfigText(decoded.text, file);
  // Positions are in that version of the file; say so in every message.
  const diagnostics = loaded.diagnostics.map((d) => (d.file === file ? { ...d, file: label } : d));
  return { ...loaded, diagnostics, label, commit };
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (
    message
      .replace(/^fatal:\s*/m, '')
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? 'git failed'
  );
}
