// The git side of `watch --git`: fetch, decide, fast-forward. The decisions are pure (tested
// without git); the repository calls go through simple-git. Never a merge commit, never a
// reset: a fast-forward or nothing, and a working-tree edit in the way is reported, not lost.
import { realpathSync } from 'node:fs';
import { relative } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';

export type FastForward =
  | { kind: 'up-to-date' }
  /** The checkout has commits the remote lacks: nothing to take. */
  | { kind: 'local-ahead' }
  | { kind: 'fast-forward' }
  | { kind: 'diverged' };

/** What to do with `remote` given the checked-out `head` and their merge base (null: no common history). */
export function fastForwardDecision(head: string, remote: string, mergeBase: string | null): FastForward {
  if (head === remote) return { kind: 'up-to-date' };
  if (mergeBase === head) return { kind: 'fast-forward' };
  if (mergeBase === remote) return { kind: 'local-ahead' };
  return { kind: 'diverged' };
}

/** The working-tree edits a fast-forward would overwrite: paths both changed by the incoming commits and edited (or untracked) locally. */
export function blockingEdits(incoming: readonly string[], dirty: readonly string[]): string[] {
  const changed = new Set(incoming);
  return [...new Set(dirty)].filter((p) => changed.has(p)).sort();
}

export const short = (commit: string) => commit.slice(0, 7);

/** `origin/main` → { remote: 'origin', branch: 'main' }; the branch may hold slashes. */
export function splitRemoteRef(ref: string): { remote: string; branch: string } | null {
  const i = ref.indexOf('/');
  if (i <= 0 || i === ref.length - 1) return null;
  return { remote: ref.slice(0, i), branch: ref.slice(i + 1) };
}

export class GitRepo {
  private readonly git: SimpleGit;

  private constructor(readonly root: string) {
    this.git = simpleGit({ baseDir: root });
  }

  /** The repository holding `dir`, or null when it is in none. */
  static async at(dir: string): Promise<GitRepo | null> {
    const probe = simpleGit({ baseDir: dir });
    if (!(await probe.checkIsRepo())) return null;
    const root = (await probe.revparse(['--show-toplevel'])).trim();
    return new GitRepo(realpathSync(root));
  }

  async branch(): Promise<string | null> {
    const b = (await this.git.raw(['rev-parse', '--abbrev-ref', 'HEAD'])).trim();
    return b === 'HEAD' ? null : b;
  }

  /** The checked-out branch's upstream, as `remote/branch`, or null when it has none. */
  async upstream(): Promise<string | null> {
    try {
      return (await this.git.raw(['rev-parse', '--abbrev-ref', '--symbolic-full-name', '@{upstream}'])).trim() || null;
    } catch {
      return null; // no upstream configured: the caller says what to do
    }
  }

  async head(): Promise<string> {
    return (await this.git.revparse(['HEAD'])).trim();
  }

  /** Fetches `branch` from `remote`; returns the fetched commit. */
  async fetch(remote: string, branch: string): Promise<string> {
    await this.git.fetch(remote, branch);
    return (await this.git.revparse([`refs/remotes/${remote}/${branch}`])).trim();
  }

  async mergeBase(a: string, b: string): Promise<string | null> {
    try {
      return (await this.git.raw(['merge-base', a, b])).trim() || null;
    } catch {
      return null; // unrelated histories: git exits 1
    }
  }

  /** Paths (relative to the root) changed between `from` and `to`. */
  async changedPaths(from: string, to: string): Promise<string[]> {
    return (await this.git.raw(['diff', '--name-only', from, to])).split('\n').filter(Boolean);
  }

  /** Paths (relative to the root) with working-tree or index edits, or untracked. */
  async dirtyPaths(): Promise<string[]> {
    const status = await this.git.status();
    return status.files.flatMap((f) => (f.path.includes(' -> ') ? f.path.split(' -> ') : [f.path]));
  }

  async fastForward(commit: string): Promise<void> {
    await this.git.merge(['--ff-only', commit]);
  }

  /** The text of `path` at `commit`, or null when the commit has no such file. */
  async show(commit: string, path: string): Promise<string | null> {
    try {
      return await this.git.show([`${commit}:${relative(this.root, realpathSync(path))}`]);
    } catch {
      return null; // the file is not in that commit
    }
  }
}
