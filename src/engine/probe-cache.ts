// What a probe found out about an image ID never changes (IDs are content hashes), so the
// answers are kept on disk and a repeated plan or apply skips the probe container.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface ProbeAnswer {
  shell: boolean;
  workspaceWritable: boolean;
}

function cacheFile(): string {
  const base = process.env.SANDBOXSHIFT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sandboxshift');
  return join(base, 'image-probes.json');
}

function readAll(): Record<string, ProbeAnswer> {
  try {
    return JSON.parse(readFileSync(cacheFile(), 'utf8')) as Record<string, ProbeAnswer>;
  } catch {
    return {}; // no cache yet, or an unreadable one: probe again
  }
}

export function cachedProbe(key: string): ProbeAnswer | undefined {
  return readAll()[key];
}

export function rememberProbe(key: string, answer: ProbeAnswer): void {
  const file = cacheFile();
  try {
    mkdirSync(dirname(file), { recursive: true });
    const all = { ...readAll(), [key]: answer };
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(all));
    renameSync(tmp, file);
  } catch {
    // A read-only home only costs the next run a probe; the answer itself is already in hand.
  }
}
