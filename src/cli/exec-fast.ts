// `exec` and `shell` on their short path (src/app/exec-fast.ts), tried by main.ts before the
// command's full code is loaded: a whole `exec ENV true` is meant to cost about what `docker
// exec` does. null when the full command must run: options it does not read (help, colour,
// anything parse() might refuse), no ENV, no command, or quickExec's own null.
import { quickExec } from '../app/exec-fast.js';
import { USER_SHELL } from '../engine/exec-loader.js';
import { configArgs, configPath } from './config-arg.js';
import { quickExecOptions, splitExecArgs } from './exec-args.js';
import { execTerminal } from './exec-terminal.js';

export async function fastExec(command: 'exec' | 'shell', argv: string[]): Promise<number | null> {
  const { own, env, cmd } = splitExecArgs(argv);
  const values = quickExecOptions(command, own);
  if (!values || !env || (command === 'exec' ? cmd.length === 0 : cmd.length > 0)) return null;
  const path = configPath(values);
  const terminal = execTerminal(values);
  let ran = false;
  try {
    const code = await quickExec(
      {
        configPath: path,
        environment: env,
        cmd: command === 'exec' ? cmd : USER_SHELL,
        tty: terminal.tty,
        env: terminal.env,
        configArgs: configArgs(path),
        // The short path never wakes an environment: the full one says so when it does.
        notice: () => undefined,
        starting: () => {
          ran = true;
          terminal.starting();
        },
      },
      { stdin: terminal.stdin, stdout: process.stdout, stderr: process.stderr },
    );
    return code;
  } finally {
    // Not run: the full path takes the terminal (and stdin) over as it was.
    if (ran) terminal.done();
  }
}
