// `sandboxshift exec ENV [--] CMD…` and `sandboxshift shell ENV`. Options come before ENV;
// everything after it is the command's own (so `exec dev ls -la` passes -la to ls). Nothing of
// ours goes to stdout: it is the command's. The command's exit code is ours.
import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { execInEnvironment } from '../../app/exec.js';
import { USER_SHELL } from '../../engine/exec-loader.js';
import type { ExecSessionRequest } from '../../engine/exec-session.js';
import { connectEngine } from '../../engine/client.js';
import { configArgs, configPath, parse, type Options } from '../args.js';
import type { Io } from '../io.js';

export const execHelp = `Usage: sandboxshift exec [-c FILE] [-i] [-t | --no-tty] ENV [--] CMD [ARG...]

Runs a command in an environment, as its user, in /workspace, with its secrets loaded as
environment variables the way the image's entrypoint loads them for the main process.
stdout and stderr stay separate; the command's exit code is sandboxshift's. A stopped or
paused environment (by its idle policy or otherwise) is started or unpaused first, said on
stderr. An exec counts as activity for idle policies.

Options (before ENV; what follows ENV is the command's):
  -t, --tty      a terminal (PTY) in the sandbox, window size kept in step; the default when
                 stdin and stdout are both terminals
  --no-tty       no terminal even then (plain streams, stdout and stderr apart)
  -i             forward stdin from a terminal without -t (stdin that is a pipe or a file is
                 always forwarded, its end closing the command's stdin)
  -c, --config   the config file (default sandboxshift.yaml)`;

export const shellHelp = `Usage: sandboxshift shell [-c FILE] [--no-tty] ENV

Opens the environment user's shell (its /etc/passwd entry, else /bin/sh) in /workspace, with
the secrets loaded, as \`sandboxshift exec -it ENV SHELL\` would.`;

const EXEC_OPTIONS = { interactive: { type: 'boolean', short: 'i' }, tty: { type: 'boolean', short: 't' }, 'no-tty': { type: 'boolean' } } as const satisfies Options;
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

export async function execCommand(argv: string[], io: Io): Promise<number> {
  const { own, env, cmd } = splitExecArgs(argv);
  const { values } = parse('exec', own, EXEC_OPTIONS);
  if (cmd.length === 0) {
    throw new DiagnosticsError([
      errorDiag('exec needs a command to run after the environment name', { hint: `sandboxshift exec ${env ?? 'ENV'} -- CMD [ARG...], or sandboxshift shell ${env ?? 'ENV'}` }),
    ]);
  }
  return run('exec', values, env, cmd, io);
}

export async function shellCommand(argv: string[], io: Io): Promise<number> {
  const { own, env, cmd } = splitExecArgs(argv);
  const { values } = parse('shell', own, { 'no-tty': EXEC_OPTIONS['no-tty'] });
  if (cmd.length > 0) throw new DiagnosticsError([errorDiag(`shell takes no command (got '${cmd.join(' ')}')`, { hint: `sandboxshift exec ${env} -- ${cmd.join(' ')}` })]);
  return run('shell', values, env, USER_SHELL, io);
}

async function run(command: string, values: Record<string, unknown>, env: string | undefined, cmd: string[], io: Io): Promise<number> {
  const path = configPath(values);
  if (!env) throw new DiagnosticsError([errorDiag(`${command} needs an environment name`, { hint: `sandboxshift ${command} ENV${command === 'exec' ? ' -- CMD [ARG...]' : ''}` })]);
  const stdin = process.stdin;
  const stdout = process.stdout;
  const bothTerminals = Boolean(stdin.isTTY && stdout.isTTY);
  const tty = values.tty === true || (values['no-tty'] !== true && bothTerminals);
  // A pipe or a file is forwarded; a terminal only when asked (-i) or with a PTY.
  const forwardStdin = tty || values.interactive === true || !stdin.isTTY;
  const rawMode = tty && Boolean(stdin.isTTY);
  const session: ExecSessionRequest['tty'] = tty
    ? {
        size: () => ({ rows: stdout.rows ?? 24, columns: stdout.columns ?? 80 }),
        onResize: (resize) => {
          stdout.on('resize', resize);
          return () => stdout.off('resize', resize);
        },
      }
    : undefined;
  let raw = false;
  try {
    return await execInEnvironment(
      connectEngine(),
      {
        configPath: path,
        environment: env,
        cmd,
        tty: session,
        env: tty && process.env.TERM ? [`TERM=${process.env.TERM}`] : [],
        configArgs: configArgs(path),
        notice: (text) => io.err(text),
        starting: () => {
          if (rawMode) raw = Boolean(stdin.setRawMode(true));
        },
      },
      { stdin: forwardStdin ? stdin : undefined, stdout, stderr: process.stderr },
    );
  } finally {
    if (raw) stdin.setRawMode(false);
    // Nothing more to read: let the process end even if whoever feeds stdin never closes it.
    if (forwardStdin) stdin.destroy();
  }
}
