// The terminal side of exec and shell: whether there is a PTY, whether stdin is forwarded, raw
// mode while the command runs, and what is given back after. Shared by the short path
// (exec-fast.ts) and the full command (commands/exec.ts).
import { fstatSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { isatty } from 'node:tty';
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
  const stdinTerminal = isatty(0);
  const stdout = process.stdout;
  const bothTerminals = stdinTerminal && Boolean(stdout.isTTY);
  const tty = values.tty === true || (values['no-tty'] !== true && bothTerminals);
  // A pipe or a file is forwarded; a terminal only when asked (-i) or with a PTY; /dev/null only
  // then too: it has nothing to give, and without it the command's stdin is the sandbox's
  // /dev/null, as with `docker exec` without -i (and process.stdin is never made).
  const forwardStdin = tty || values.interactive === true || (!stdinTerminal && !stdinIsDevNull());
  const stdin = forwardStdin ? process.stdin : undefined;
  const rawMode = tty && stdinTerminal;
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
    stdin,
    starting: () => {
      if (rawMode) raw = Boolean(process.stdin.setRawMode(true));
    },
    done: () => {
      if (raw) process.stdin.setRawMode(false);
      // Nothing more to read: let the process end even if whoever feeds stdin never closes it.
      stdin?.destroy();
    },
  };
}

/** Whether file descriptor 0 is the null device (a closed or unreadable one is not). */
function stdinIsDevNull(): boolean {
  try {
    const own = fstatSync(0);
    return own.isCharacterDevice() && own.rdev === statSync('/dev/null').rdev;
  } catch {
    return false;
  }
}
