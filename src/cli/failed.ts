// The last net under every command (main.ts and the exec short path's entry): diagnostics are
// printed with their exit code, an engine that does not answer or refuses becomes advice, a host
// file system error names its path and why, and anything else is thrown on as an internal error.
import type { Io } from './io.js';

/** A command's error as diagnostics and an exit code, or thrown on as an internal error. */
export async function failed(err: unknown, io: Io): Promise<number> {
  const [{ printDiagnostics }, { DiagnosticsError, errorDiag }] = await Promise.all([import('./io.js'), import('../diagnostics.js')]);
  if (err instanceof DiagnosticsError) {
    printDiagnostics(io, err.diagnostics);
    return err.exitCode;
  }
  // A last net under every command: an engine that does not answer is advice, not a trace.
  const { isEngineUnreachable, engineUnreachable, isEngineRefusal, engineRefused } = await import('../engine/client.js');
  if (isEngineUnreachable(err) || isEngineRefusal(err)) {
    const diag = isEngineUnreachable(err) ? engineUnreachable(err) : engineRefused(err);
    printDiagnostics(io, diag.diagnostics);
    return diag.exitCode;
  }
  const file = hostFileError(err);
  if (file) {
    printDiagnostics(io, [errorDiag(file)]);
    return 1;
  }
  throw err;
}

/** A host file system error no command turned into advice, as the path and why (not a trace). */
function hostFileError(err: unknown): string | null {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!(e instanceof Error) || typeof e.code !== 'string' || typeof e.path !== 'string' || e.syscall === 'connect') return null;
  const why = e.message.replace(/^[A-Z0-9_]+: /, '').replace(/, [a-z_]+ '.*'$/s, '');
  return `cannot ${e.syscall ?? 'use'} ${e.path} on the host: ${why} (${e.code})`;
}
