// `sandboxshift exec ENV [--] CMD…` and `sandboxshift shell ENV`. Options come before ENV;
// everything after it is the command's own (so `exec dev ls -la` passes -la to ls). Nothing of
// ours goes to stdout: it is the command's. The command's exit code is ours.
import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { execInEnvironment } from '../../app/exec.js';
import { USER_SHELL } from '../../engine/exec-loader.js';
import { connectEngine } from '../../engine/client.js';
import { configArgs, configPath, parse, type Options } from '../args.js';
import { splitExecArgs, type ExecOptions } from '../exec-args.js';
import { execTerminal } from '../exec-terminal.js';
import type { Io } from '../io.js';

export { splitExecArgs } from '../exec-args.js';

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

async function run(command: string, values: ExecOptions, env: string | undefined, cmd: string[], io: Io): Promise<number> {
  const path = configPath(values);
  if (!env) throw new DiagnosticsError([errorDiag(`${command} needs an environment name`, { hint: `sandboxshift ${command} ENV${command === 'exec' ? ' -- CMD [ARG...]' : ''}` })]);
  const terminal = execTerminal(values);
  try {
    return await execInEnvironment(
      connectEngine(),
      {
        configPath: path,
        environment: env,
        cmd,
        tty: terminal.tty,
        env: terminal.env,
        configArgs: configArgs(path),
        notice: (text) => io.err(text),
        starting: terminal.starting,
      },
      { stdin: terminal.stdin, stdout: process.stdout, stderr: process.stderr },
    );
  } finally {
    terminal.done();
  }
}
