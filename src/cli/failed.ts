// The last net under every command (main.ts and the exec short path's entry): diagnostics are
// printed with their exit code, an engine that does not answer or refuses becomes advice, and
// anything else is thrown on as an internal error.
import type { Io } from './io.js';

/** A command's error as diagnostics and an exit code, or thrown on as an internal error. */
export async function failed(err: unknown, io: Io): Promise<number> {
  const [{ printDiagnostics }, { DiagnosticsError }] = await Promise.all([import('./io.js'), import('../diagnostics.js')]);
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
  throw err;
}
