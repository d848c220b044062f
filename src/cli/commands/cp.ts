import { copy } from '../../app/copy.js';
import { connectEngine } from '../../engine/client.js';
import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { configPath, parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';
import { printCopyReport } from '../cp-report.js';

export const cpHelp = `Usage: sandboxshift cp [--json] [--config FILE] SRC DST

Copies a file or folder between the host and an environment. Exactly one side is ENV:PATH;
a relative PATH is inside /workspace (ENV:notes.txt is /workspace/notes.txt). Works on a
stopped environment and through a remote engine (the engine's archive API).

Where things land follows docker cp: into an existing folder a file or folder keeps its
name (SRC/. copies only a folder's contents); onto an existing file, a file replaces it; a
missing DST is created with that name (its parent folder must exist).

Inside the sandbox only /workspace is reachable: '..' that escapes, absolute paths elsewhere
and symlinks pointing out are refused, both ways; so are symlinks in a copied folder that
point out of it, devices, FIFOs and sockets. Files copied in belong to the environment's
user (modes kept); files copied out belong to you.

Options:
  --json      one versioned JSON object (format_version "1.0"): direction, source,
              destination, files, bytes`;

export async function cpCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('cp', argv, { json: { type: 'boolean' } });
  if (positionals.length !== 2) {
    throw new DiagnosticsError([
      errorDiag(`cp needs a source and a destination, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`, {
        hint: 'sandboxshift cp ./file ENV:/workspace/  or  sandboxshift cp ENV:/workspace/file ./',
      }),
    ]);
  }
  const report = await copy(connectEngine(), { configPath: configPath(values), source: positionals[0]!, destination: positionals[1]! });
  printCopyReport(report, values.json === true, io);
  return EXIT_OK;
}
