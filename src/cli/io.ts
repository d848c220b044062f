// Output, prompts and exit codes. Exit codes are part of the interface:
// 0 ok, 1 error, 2 changes present (plan --detailed-exitcode).
import { DiagnosticsError, errorDiag, formatDiagnostic, type Diagnostic } from '../diagnostics.js';
import { styleFor, type Style } from '../render/style.js';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_CHANGES = 2;

export interface Io {
  out(text: string): void;
  err(text: string): void;
  style: Style;
  errStyle: Style;
  interactive: boolean;
}

export function processIo(noColor: boolean): Io {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    style: styleFor(process.stdout, noColor),
    errStyle: styleFor(process.stderr, noColor),
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY) && process.env.CI !== 'true',
  };
}

export function printDiagnostics(io: Io, diags: readonly Diagnostic[]): void {
  for (const d of diags) {
    const text = formatDiagnostic(d);
    io.err(`${d.severity === 'error' ? io.errStyle.red(text) : io.errStyle.yellow(text)}\n`);
  }
}

/** Terraform's rule: only the word "yes" approves. */
export async function confirm(io: Io, question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new DiagnosticsError([errorDiag('this needs approval, but there is no terminal to ask on', { hint: 'run it in a terminal, or pass --auto-approve (for CI)' })]);
  }
  // Loaded here, not at the top: only a prompt needs it (the exec short path bundles this file).
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: `);
    return answer.trim() === 'yes';
  } finally {
    rl.close();
  }
}
