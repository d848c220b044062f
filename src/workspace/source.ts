// Where a new workspace's first files come from: a local folder, or a git clone (simple-git)
// made into a temporary folder that the caller removes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkspaceConfig } from '../config/types.js';
import { redactGitUrl, withoutCredentials } from '../config/git-url.js';

export interface SeedSource {
  dir: string;
  describe: string;
  cleanup(): void;
}

export async function openSeedSource(ws: WorkspaceConfig): Promise<SeedSource | null> {
  if (ws.from) return { dir: ws.from, describe: ws.from, cleanup: () => {} };
  if (!ws.git) return null;
  const dir = mkdtempSync(join(tmpdir(), 'sandboxshift-seed-'));
  try {
    const { simpleGit } = await import('simple-git');
    await simpleGit().clone(ws.git.url, dir, ws.git.ref ? ['--no-checkout'] : []);
    if (ws.git.ref) await simpleGit(dir).checkout(ws.git.ref);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const url = redactGitUrl(ws.git.url);
    const why = (err as Error).message.split('\n')[0] ?? '';
    // No cause: the git error's own text can hold the URL's credentials; its first line, redacted, is kept.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`cannot clone ${url}${ws.git.ref ? ` at ${ws.git.ref}` : ''}: ${redactGitUrl(why)}`);
  }
  // The clone lands in the sandbox: it keeps the remote, never credentials written into its URL.
  if (withoutCredentials(ws.git.url) !== ws.git.url) {
    const { simpleGit } = await import('simple-git');
    await simpleGit(dir).remote(['set-url', 'origin', withoutCredentials(ws.git.url)]);
  }
  return { dir, describe: `${redactGitUrl(ws.git.url)}${ws.git.ref ? `@${ws.git.ref}` : ''}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
