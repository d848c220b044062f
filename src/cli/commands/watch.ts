// `sandboxshift watch`: keep the engine converged to the config, unattended. Flags only here;
// the loop is src/watch, the reconcile src/app.
import { resolve } from 'node:path';
import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { connectEngine } from '../../engine/client.js';
import { parseDuration } from '../../config/index.js';
import { EngineEventsTrigger, FileTrigger, IdleTrigger, ResyncTrigger, Watcher, watchLog, type LogFormat } from '../../watch/index.js';
import { configPath, parse, positiveInt } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';

export const watchHelp = `Usage: sandboxshift watch [options]

Keeps the engine converged to the config: reconciles (the same load, observe, plan and apply as
\`apply --auto-approve\`) when the config or a file it reads changes, when the engine reports a
project container stopped, killed, removed or paused (drift), and every --resync. Each reconcile
holds the engine lock for its own duration only; a lock held by another run is waited for.
Never applies a change that deletes a /workspace, and holds back deleting more than half of the
project's environments at once. Runs until SIGTERM or SIGINT, then exits 0.

Options:
  -c, --config FILE       config file (default: sandboxshift.yaml)
  --resync DURATION       full reconcile at least this often (default 5m; e.g. 30s, 1m)
  --log-format FORMAT     text (default) or json: one JSON object per line
  --allow-mass-delete     apply a config that deletes more than half of the environments at once
  --parallelism N         environments changed at once (default 10)`;

export async function watchCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse('watch', argv, {
    resync: { type: 'string' },
    'log-format': { type: 'string' },
    'allow-mass-delete': { type: 'boolean' },
    parallelism: { type: 'string' },
  });
  const resyncMs = resyncInterval(values.resync as string | undefined);
  const format = logFormat(values['log-format'] as string | undefined);
  const file = resolve(configPath(values));
  const engine = connectEngine();
  const log = watchLog(format, (t) => io.out(t));
  const watcher = new Watcher({
    configPath: file,
    engine,
    log,
    allowMassDelete: values['allow-mass-delete'] === true,
    parallelism: positiveInt('watch', 'parallelism', values.parallelism as string | undefined, 10),
    triggers: [new FileTrigger(file), new EngineEventsTrigger(engine), new ResyncTrigger(resyncMs), new IdleTrigger(engine)],
  });
  const stopped = new Promise<void>((done) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      // A second signal while stopping: the lock may be left; `sandboxshift unlock` removes it.
      if (stopping) process.exit(EXIT_OK);
      stopping = true;
      void watcher.stop(signal).then(done);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  log.line('watching', `watching ${file}: the config and the files it reads, engine events, full resync every ${Math.round(resyncMs / 1000)}s`, { config: file, resyncMs });
  await watcher.start();
  await stopped;
  // chokidar and the event stream are closed; nothing should keep the process, but never hang.
  setTimeout(() => process.exit(EXIT_OK), 500).unref();
  return EXIT_OK;
}

function resyncInterval(raw: string | undefined): number {
  if (raw === undefined) return 5 * 60_000;
  const seconds = parseDuration(raw);
  if (typeof seconds !== 'number' || seconds < 1) {
    throw new DiagnosticsError([errorDiag(`watch: --resync must be a duration of at least 1s, got '${raw}'`, { hint: 'e.g. --resync 5m or --resync 30s' })]);
  }
  return seconds * 1000;
}

function logFormat(raw: string | undefined): LogFormat {
  if (raw === undefined || raw === 'text') return 'text';
  if (raw === 'json') return 'json';
  throw new DiagnosticsError([errorDiag(`watch: --log-format must be 'text' or 'json', got '${raw}'`, { hint: 'use --log-format json for one JSON object per line' })]);
}
