// Whether a command shows the Ink TUI, and loading it. The TUI is for a person at a terminal:
// anywhere else (pipes, CI, --no-tui, a dumb terminal) the plain text output stays as it is.
import { plainStyle } from '../render/style.js';
import type { Values } from './args.js';
import type { Io } from './io.js';

export const NO_TUI_HELP = '  --no-tui                no interactive view on a terminal: the plain plan and prompt';

export function wantsTui(io: Io, values: Values, env: NodeJS.ProcessEnv = process.env): boolean {
  // io.interactive: stdin and stdout are terminals and CI is not 'true'. Ink's own CI rule is
  // wider (CI set to anything but 0/false): there it draws only the last frame, useless here.
  const ci = ['CI', 'CONTINUOUS_INTEGRATION'].some((k) => k in env && env[k] !== '0' && env[k] !== 'false');
  return io.interactive && values['no-tui'] !== true && !ci && env.TERM !== 'dumb';
}

/** Colours in the TUI follow the plain output's choice (--no-color, NO_COLOR). */
export function tuiColor(io: Io): boolean {
  return io.style !== plainStyle;
}

/** Ink and React load only here, so --version, validate and plan --json never pay for them. */
export function loadTui(): Promise<typeof import('../render/ink/index.js')> {
  return import('../render/ink/index.js');
}
