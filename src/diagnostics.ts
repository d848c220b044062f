// User errors travel as diagnostics (file, line, column, key path, hint), never as stack traces.
// Programming errors still throw ordinary Errors.

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  message: string;
  /** Source file the problem is in, when it comes from a file. */
  file?: string;
  line?: number;
  col?: number;
  /** Dotted key path inside the config, e.g. `environments.agent.image`. */
  path?: string;
  /** What to do about it. */
  hint?: string;
}

/** Thrown to stop a command because of user-facing problems; the CLI prints them and exits 1. */
export class DiagnosticsError extends Error {
  readonly diagnostics: Diagnostic[];
  readonly exitCode: number;
  constructor(diagnostics: Diagnostic[], exitCode = 1) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'DiagnosticsError';
    this.diagnostics = diagnostics;
    this.exitCode = exitCode;
  }
}

export function errorDiag(message: string, extra: Omit<Diagnostic, 'severity' | 'message'> = {}): Diagnostic {
  return { severity: 'error', message, ...extra };
}

export function warningDiag(message: string, extra: Omit<Diagnostic, 'severity' | 'message'> = {}): Diagnostic {
  return { severity: 'warning', message, ...extra };
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

/** `FILE:LINE:COL: error: message (at path)` and an indented hint line. */
export function formatDiagnostic(d: Diagnostic): string {
  let where = '';
  if (d.file) {
    where = d.file;
    if (d.line !== undefined) where += `:${d.line}:${d.col ?? 1}`;
    where += ': ';
  }
  const at = d.path ? ` (at ${d.path})` : '';
  const hint = d.hint ? `\n  hint: ${d.hint}` : '';
  return `${where}${d.severity}: ${d.message}${at}${hint}`;
}
