#!/usr/bin/env node
// Entry point: pick the command, run it, map errors to exit codes. Nothing heavy is imported
// before we know the command, so `--version` and `validate` start fast.
import { VERSION } from '../version.js';
import { failed } from './failed.js';
import type { Io } from './io.js';
import { shortPathTried } from './short-path-mark.js';

// Kept here rather than imported from io.ts: `--version` and `--help` load nothing else.
const EXIT_ERROR = 1;

const USAGE = `Usage: sandboxshift <command> [options]

Commands:
  validate   check sandboxshift.yaml (no engine needed)
  plan       show what apply would change on the Docker engine
  diff       what apply would change between two git commits of the config (no engine needed)
  apply      converge the engine to the config (or apply a saved plan)
  destroy    remove the project's environments (workspace volumes kept)
  status     show each environment's state
  images     build the config's images (images build [NAME])
  logs       an environment's output, or its egress decisions (logs ENV --egress)
  egress     what an environment may reach: allow list, mechanism, policy hash, decisions
  unlock     remove a stale apply lock
  policy     the engine's policy for every project on it: policy set FILE | show | clear | unlock ID
  watch      keep the engine converged: reconcile on config edits, drift and a timer; idle policies
  wake       start or unpause an environment an idle policy stopped or paused
  touch      record activity for an environment (its idle clock starts again)
  cp         copy files and folders between the host and an environment's /workspace
  exec       run a command in an environment (exec ENV [--] CMD...), its exit code returned
  shell      open the environment user's shell in it

Run \`sandboxshift <command> --help\` for a command's options.
Exit codes: 0 ok, 1 error, 2 changes present (plan --detailed-exitcode).`;

/** `own`: the part of argv that is sandboxshift's (exec's command may have its own --help). */
type Command = { run: (argv: string[], io: Io) => Promise<number>; help: string; own?: (argv: string[]) => string[] };

const COMMANDS: Record<string, () => Promise<Command>> = {
  validate: async () => {
    const m = await import('./commands/validate.js');
    return { run: m.validateCommand, help: m.validateHelp };
  },
  plan: async () => {
    const m = await import('./commands/plan.js');
    return { run: m.planCommand, help: m.planHelp };
  },
  diff: async () => {
    const m = await import('./commands/diff.js');
    return { run: m.diffCommand, help: m.diffHelp };
  },
  apply: async () => {
    const m = await import('./commands/apply.js');
    return { run: m.applyCommand, help: m.applyHelp };
  },
  destroy: async () => {
    const m = await import('./commands/destroy.js');
    return { run: m.destroyCommand, help: m.destroyHelp };
  },
  status: async () => {
    const m = await import('./commands/status.js');
    return { run: m.statusCommand, help: m.statusHelp };
  },
  images: async () => {
    const m = await import('./commands/images.js');
    return { run: m.imagesCommand, help: m.imagesHelp };
  },
  logs: async () => {
    const m = await import('./commands/logs.js');
    return { run: m.logsCommand, help: m.logsHelp };
  },
  egress: async () => {
    const m = await import('./commands/egress.js');
    return { run: m.egressCommand, help: m.egressHelp };
  },
  policy: async () => {
    const m = await import('./commands/policy.js');
    return { run: m.policyCommand, help: m.policyHelp };
  },
  unlock: async () => {
    const m = await import('./commands/unlock.js');
    return { run: m.unlockCommand, help: m.unlockHelp };
  },
  watch: async () => {
    const m = await import('./commands/watch.js');
    return { run: m.watchCommand, help: m.watchHelp };
  },
  wake: async () => {
    const m = await import('./commands/wake.js');
    return { run: m.wakeCommand, help: m.wakeHelp };
  },
  cp: async () => {
    const m = await import('./commands/cp.js');
    return { run: m.cpCommand, help: m.cpHelp };
  },
  touch: async () => {
    const m = await import('./commands/touch.js');
    return { run: m.touchCommand, help: m.touchHelp };
  },
  exec: async () => {
    const m = await import('./commands/exec.js');
    return { run: m.execCommand, help: m.execHelp, own: (argv) => m.splitExecArgs(argv).own };
  },
  shell: async () => {
    const m = await import('./commands/exec.js');
    return { run: m.shellCommand, help: m.shellHelp, own: (argv) => m.splitExecArgs(argv).own };
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`sandboxshift ${VERSION}\n`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : EXIT_ERROR;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`error: unknown command '${name}'\n\n${USAGE}\n`);
    return EXIT_ERROR;
  }
  if ((name === 'exec' || name === 'shell' || name === 'cp') && !shortPathTried()) {
    // The common exec and cp skip loading the full command (exec-fast.ts, cp-fast.ts); null: it
    // did nothing. The bundled CLI's entry tries it first (short-path.ts), and then not again here.
    try {
      const code = name === 'cp' ? await (await import('./cp-fast.js')).fastCp(rest) : await (await import('./exec-fast.js')).fastExec(name, rest);
      if (code !== null) return code;
    } catch (err) {
      return await failed(err, (await import('./io.js')).processIo(false));
    }
  }
  const { processIo } = await import('./io.js');
  const command = await load();
  const own = command.own ? command.own(rest) : rest;
  const io: Io = processIo(own.includes('--no-color'));
  if (own.includes('--help') || own.includes('-h')) {
    io.out(`${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    return await failed(err, io);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sandboxshift: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT_ERROR;
  },
);
