// `sandboxshift watch`: keep the engine converged to the config, unattended. Flags only here;
// the loop is src/watch, the reconcile src/app.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { connectEngine } from '../../engine/client.js';
import { parseDuration } from '../../config/index.js';
import {
  EngineEventsTrigger,
  FileTrigger,
  GIT_INTERVAL_MS,
  GitTrigger,
  IdleTrigger,
  parseListenAddress,
  ResyncTrigger,
  WatchListener,
  Watcher,
  watchLog,
  type LogFormat,
  type Trigger,
} from '../../watch/index.js';
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
  --parallelism N         environments changed at once (default 10)
  --git [REMOTE/BRANCH]   follow a git branch (default: the checked-out branch's upstream): fetch
                          every --interval and fast-forward the checkout holding the config; a
                          diverged history, local edits in the way, or a commit with an invalid
                          config are reported and nothing is applied. The applied commit is
                          recorded on the engine (shown by \`status\`; a new watcher resumes from it)
  --interval DURATION     how often --git fetches (default 15s)
  --listen ADDR           serve POST /webhook (a GitHub push: fetch now), GET /healthz and
                          GET /metrics (Prometheus) on ADDR, e.g. 127.0.0.1:9419
  --webhook-secret-file PATH  the webhook secret, read from PATH (required with --listen)
  --webhook-secret-env NAME   the webhook secret, read from the environment variable NAME`;

export async function watchCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse('watch', gitFlagValue(argv), {
    resync: { type: 'string' },
    'log-format': { type: 'string' },
    'allow-mass-delete': { type: 'boolean' },
    parallelism: { type: 'string' },
    git: { type: 'string' },
    interval: { type: 'string' },
    listen: { type: 'string' },
    'webhook-secret-file': { type: 'string' },
    'webhook-secret-env': { type: 'string' },
  });
  const resyncMs = resyncInterval(values.resync as string | undefined);
  const gitRef = values.git as string | undefined;
  if (values.interval !== undefined && gitRef === undefined) {
    throw new DiagnosticsError([errorDiag('watch: --interval is how often --git fetches, and --git is not given', { hint: 'add --git (or --git origin/main), or leave out --interval' })]);
  }
  const intervalMs = values.interval === undefined ? GIT_INTERVAL_MS : duration('interval', values.interval as string, 'e.g. --interval 15s or --interval 1m');
  const listen = listenOptions(values);
  const format = logFormat(values['log-format'] as string | undefined);
  const file = resolve(configPath(values));
  const engine = connectEngine();
  const log = watchLog(format, (t) => io.out(t));
  const git = gitRef === undefined ? null : new GitTrigger({ configPath: file, engine, ref: gitRef === '' ? null : gitRef, intervalMs });
  const triggers: Trigger[] = [new FileTrigger(file), new EngineEventsTrigger(engine), new ResyncTrigger(resyncMs), new IdleTrigger(engine)];
  if (git) triggers.push(git);
  const watcher = new Watcher({
    configPath: file,
    engine,
    log,
    allowMassDelete: values['allow-mass-delete'] === true,
    parallelism: positiveInt('watch', 'parallelism', values.parallelism as string | undefined, 10),
    triggers,
  });
  const listener = listen
    ? new WatchListener({
        ...listen,
        log,
        onPush: () => (git ? git.fetchNow('webhook') : log.line('webhook', 'webhook: signed, but there is no --git to fetch: nothing to do')),
        unhealthy: () => watcher.unhealthy(),
      })
    : null;
  const stopped = new Promise<void>((done) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      // A second signal while stopping: the lock may be left; `sandboxshift unlock` removes it.
      if (stopping) process.exit(EXIT_OK);
      stopping = true;
      void (listener?.stop() ?? Promise.resolve()).then(() => watcher.stop(signal)).then(done);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  log.line('watching', `watching ${file}: the config and the files it reads, engine events, full resync every ${Math.round(resyncMs / 1000)}s`, { config: file, resyncMs });
  await watcher.start();
  if (listener) {
    const bound = await listener.start();
    log.line('listening', `listening on ${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}: POST /webhook, GET /healthz, GET /metrics`, bound);
  }
  await stopped;
  // chokidar and the event stream are closed; nothing should keep the process, but never hang.
  setTimeout(() => process.exit(EXIT_OK), 500).unref();
  return EXIT_OK;
}

/** `--git` takes an optional value: bare (last, or before another flag) it means the upstream. */
function gitFlagValue(argv: string[]): string[] {
  return argv.flatMap((a, i) => (a === '--git' && (i === argv.length - 1 || argv[i + 1]!.startsWith('-')) ? ['--git='] : [a]));
}

function duration(flag: string, raw: string, hint: string): number {
  const seconds = parseDuration(raw);
  if (typeof seconds !== 'number' || seconds < 1) throw new DiagnosticsError([errorDiag(`watch: --${flag} must be a duration of at least 1s, got '${raw}'`, { hint })]);
  return seconds * 1000;
}

/** The listener's address and webhook secret; the secret only ever by reference (a file or a variable). */
function listenOptions(values: Record<string, unknown>): { host: string; port: number; secret: string } | null {
  const raw = values.listen as string | undefined;
  const file = values['webhook-secret-file'] as string | undefined;
  const env = values['webhook-secret-env'] as string | undefined;
  if (raw === undefined) {
    if (file !== undefined || env !== undefined)
      throw new DiagnosticsError([errorDiag('watch: a webhook secret is given without --listen', { hint: 'add --listen 127.0.0.1:9419 to serve the webhook' })]);
    return null;
  }
  const addr = parseListenAddress(raw);
  if (!addr)
    throw new DiagnosticsError([
      errorDiag(`watch: --listen must be HOST:PORT, got '${raw}'`, { hint: 'e.g. --listen 127.0.0.1:9419 (bind to all interfaces only on purpose: --listen 0.0.0.0:9419)' }),
    ]);
  if (file !== undefined && env !== undefined)
    throw new DiagnosticsError([errorDiag('watch: give the webhook secret once: --webhook-secret-file or --webhook-secret-env, not both', { hint: 'keep one of the two' })]);
  let secret: string;
  if (file !== undefined) {
    try {
      secret = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new DiagnosticsError([
        errorDiag(`watch: cannot read the webhook secret file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'give a readable file holding the secret' }),
      ]);
    }
  } else if (env !== undefined) {
    secret = process.env[env] ?? '';
    if (secret === '')
      throw new DiagnosticsError([
        errorDiag(`watch: the environment variable ${env} (--webhook-secret-env) is not set or empty`, { hint: `export ${env} with the webhook secret, or use --webhook-secret-file PATH` }),
      ]);
  } else {
    throw new DiagnosticsError([
      errorDiag('watch: --listen needs a webhook secret: unsigned webhooks are never accepted', {
        hint: 'give it by reference: --webhook-secret-file PATH or --webhook-secret-env NAME (the same secret as in the repository webhook settings)',
      }),
    ]);
  }
  if (secret === '') throw new DiagnosticsError([errorDiag(`watch: the webhook secret file ${file} is empty`, { hint: 'write the secret into it' })]);
  return { ...addr, secret };
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
