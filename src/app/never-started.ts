// A container in the engine's `created` state was made by an apply that never finished: its
// user may not be set up yet (no /etc/passwd entry, a root-owned /workspace). Starting it from
// anywhere but apply would also hide it from the next plan, which replaces only never-started
// containers, so exec, shell and wake refuse it and say to apply.
import { DiagnosticsError, errorDiag } from '../diagnostics.js';

export const NEVER_STARTED = 'created';

export function neverStartedError(env: string, unlockArgs: readonly string[] = []): DiagnosticsError {
  const apply = ['sandboxshift apply', ...unlockArgs].join(' ');
  return new DiagnosticsError([errorDiag(`environment '${env}' was never started: an earlier apply was interrupted before it set it up`, { hint: `run ${apply} to finish it` })]);
}
