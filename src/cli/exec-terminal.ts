// The terminal side of exec and shell: whether there is a PTY, whether stdin is forwarded, raw
// mode while the command runs, and what is given back after. Shared by the short path
// (exec-fast.ts) and the full command (commands/exec.ts).
import type { Readable } from 'node:stream';
import type { ExecSessionRequest } from '../engine/exec-session.js';
import type { ExecOptions } from './exec-args.js';

export interface ExecTerminal {
  tty: ExecSessionRequest['tty'];
  /** TERM with a PTY (never a secret). */
  env: string[];
  stdin: Readable | undefined;
  /** The command is about to run: raw mode on a PTY. */
  starting: () => void;
  /** The command ended (or never ran): raw mode off, stdin let go. */
  done: () => void;
}

export function execTerminal(values: ExecOptions): ExecTerminal {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const bothTerminals = Boolean(stdin.isTTY && stdout.isTTY);
  const tty = values.tty === true || (values['no-tty'] !== true && bothTerminals);
  // A pipe or a file is forwarded; a terminal only when asked (-i) or with a PTY.
  const forwardStdin = tty || values.interactive === true || !stdin.isTTY;
  const rawMode = tty && Boolean(stdin.isTTY);
  let raw = false;
  return {
    tty: tty
      ? {
          size: () => ({ rows: stdout.rows ?? 24, columns: stdout.columns ?? 80 }),
          onResize: (resize) => {
            stdout.on('resize', resize);
            return () => stdout.off('resize', resize);
          },
        }
      : undefined,
    env: tty && process.env.TERM ? [`TERM=${process.env.TERM}`] : [],
    stdin: forwardStdin ? stdin : undefined,
    starting: () => {
      if (rawMode) raw = Boolean(stdin.setRawMode(true));
    },
    done: () => {
      if (raw) stdin.setRawMode(false);
      // Nothing more to read: let the process end even if whoever feeds stdin never closes it.
      if (forwardStdin) stdin.destroy();
    },
  };
}
