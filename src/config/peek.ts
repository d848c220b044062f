// The project name read ahead from the file's top-level `project:` line, so engine calls can
// leave while the YAML is parsed and checked. Only a hint: callers compare it with the parsed
// config's project and ask again when they differ.
import { readFile } from 'node:fs/promises';

export function peekProjectIn(text: string): string | null {
  return /^project:[ \t]*["']?([a-z0-9][a-z0-9-]*)["']?[ \t]*(#.*)?$/m.exec(text)?.[1] ?? null;
}

export async function peekProject(configPath: string): Promise<string | null> {
  try {
    return peekProjectIn(await readFile(configPath, 'utf8'));
  } catch {
    return null; // the loader reports the unreadable file with advice
  }
}
