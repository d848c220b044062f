// The project name read ahead from the file's top-level `project:` line, so engine calls can
// leave while the YAML is parsed and checked. Only a hint: callers compare it with the parsed
// config's project and ask again when they differ.
import { readConfigFile } from './config-file.js';

export function peekProjectIn(text: string): string | null {
  return /^project:[ \t]*["']?([a-z0-9][a-z0-9-]*)["']?[ \t]*(#.*)?$/m.exec(text)?.[1] ?? null;
}

/** Null when the file cannot be used (read as the loader reads it: a FIFO is never waited on); the loader reports why, with advice. */
export async function peekProject(configPath: string): Promise<string | null> {
  const { text } = readConfigFile(configPath);
  return text === undefined ? null : peekProjectIn(text);
}
