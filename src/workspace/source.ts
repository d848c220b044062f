// Where a new workspace's first files come from: a local folder, or a git clone (simple-git)
// made into a temporary folder that the caller removes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkspaceConfig } from '../config/types.js';

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
    throw new Error(`cannot clone ${ws.git.url}${ws.git.ref ? ` at ${ws.git.ref}` : ''}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  return { dir, describe: `${ws.git.url}${ws.git.ref ? `@${ws.git.ref}` : ''}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
