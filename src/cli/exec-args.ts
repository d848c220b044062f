// exec's and shell's argv: sandboxshift's options, ENV, then the command. `quickExecOptions`
// reads the common cases without the flag parser (the short path in exec-fast.ts); anything
// else is left to parse() in commands/exec.ts, so its errors stay the same.

/** Options that take a value: the next argument is theirs, not ENV. */
const VALUE_OPTIONS = new Set(['-c', '--config']);

/** Splits argv at ENV: sandboxshift's options, ENV, and the command (a leading `--` dropped). */
export function splitExecArgs(argv: readonly string[]): { own: string[]; env: string | undefined; cmd: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') return { own: argv.slice(0, i), env: argv[i + 1], cmd: dropDashes(argv.slice(i + 2)) };
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-') || a === '-') return { own: argv.slice(0, i), env: a, cmd: dropDashes(argv.slice(i + 1)) };
  }
  return { own: [...argv], env: undefined, cmd: [] };
}

const dropDashes = (cmd: string[]) => (cmd[0] === '--' ? cmd.slice(1) : cmd);

export interface ExecOptions {
  config?: string;
  tty?: boolean;
  'no-tty'?: boolean;
  interactive?: boolean;
}

const FLAGS: Record<string, Array<'tty' | 'no-tty' | 'interactive'>> = {
  '-t': ['tty'],
  '--tty': ['tty'],
  '-i': ['interactive'],
  '--interactive': ['interactive'],
  '-it': ['interactive', 'tty'],
  '-ti': ['interactive', 'tty'],
  '--no-tty': ['no-tty'],
};

/** The options as parse() would read them, or null for anything but the plain forms (help, --no-color, a value that looks like a flag...). */
export function quickExecOptions(command: 'exec' | 'shell', own: readonly string[]): ExecOptions | null {
  const values: ExecOptions = {};
  for (let i = 0; i < own.length; i++) {
    const a = own[i] as string;
    if (VALUE_OPTIONS.has(a) || a.startsWith('--config=')) {
      const value = a.startsWith('--config=') ? a.slice('--config='.length) : own[++i];
      if (value === undefined || value === '' || value.startsWith('-')) return null;
      values.config = value;
      continue;
    }
    const flags = FLAGS[a];
    if (!flags || (command === 'shell' && a !== '--no-tty')) return null;
    for (const flag of flags) values[flag] = true;
  }
  return values;
}
