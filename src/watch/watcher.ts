// The reconcile loop: level-triggered. Triggers only ask; each reconcile loads the config,
// observes the engine afresh and applies what the safety rules allow, through the same
// application layer as `apply --auto-approve`. One reconcile at a time; triggers during one
// coalesce into exactly one more.
import { clearFailing, recordFailing } from '../engine/failing-record.js';
import type { ApplyResult } from '../apply/events.js';
import { load, type Loaded } from '../app/pipeline.js';
import { reconcileOnce } from '../app/reconcile.js';
import { DiagnosticsError, formatDiagnostic, type Diagnostic } from '../diagnostics.js';
import { engineMessage, isEngineUnreachable, type Engine } from '../engine/client.js';
import { releaseHeldLocks, type HeldLock, type LockInfo } from '../engine/lock.js';
import { Backoff, FAILURE_BACKOFF, formatDelay } from './backoff.js';
import type { WatchLog } from './log.js';
import { watchMetrics } from './metrics.js';
import { selectChanges, type Selection } from './safety.js';
import { Coalescer, type TriggerHint } from './scheduler.js';
import type { Trigger, TriggerSink } from './trigger.js';

export const LOCK_BACKOFF = { initialMs: 1_000, capMs: 15_000 };
/** SIGTERM to exit: in-flight engine calls get this long, then the lock is given back regardless. */
export const STOP_DEADLINE_MS = 8_000;
const WHOLE_RUN = '(reconcile)';

export interface WatcherOptions {
  /** Absolute path of the config. */
  configPath: string;
  engine: Engine;
  log: WatchLog;
  triggers: Trigger[];
  allowMassDelete: boolean;
  parallelism: number;
}

export class Watcher {
  private lastGood: Loaded | null = null;
  private lastGoodText: string | null = null;
  private lastInvalid: string | null = null;
  private readonly failures = new Backoff(FAILURE_BACKOFF);
  /** When each failing change first failed in this run of failures (for its engine record). */
  private readonly failingSince = new Map<string, string>();
  private readonly lockWait = new Backoff(LOCK_BACKOFF);
  private retryTimer: { at: number; timer: ReturnType<typeof setTimeout> } | null = null;
  private readonly abort = new AbortController();
  private lock: HeldLock | null = null;
  private applying = new Set<string>();
  /** Environments an idle policy is stopping or pausing, until when (ms). */
  private readonly changing = new Map<string, number>();
  private readonly coalescer = new Coalescer((hints) => this.reconcile(hints));
  private readonly sink: TriggerSink;

  constructor(private readonly options: WatcherOptions) {
    this.sink = {
      request: (hint) => this.coalescer.request(hint),
      drift: (what, env) => {
        // What our own apply does to an environment is not drift; the run after it checks anyway.
        if (env && this.applying.has(env)) return;
        if (env && (this.changing.get(env) ?? 0) >= Date.now()) return;
        options.log.line('drift', `drift: ${what}${env ? ` (environment.${env})` : ''}`, { what, environment: env });
      },
      changing: (env, untilMs) => this.changing.set(env, untilMs),
      log: options.log,
    };
  }

  async start(): Promise<void> {
    for (const t of this.options.triggers) await t.start(this.sink);
    this.coalescer.request({ kind: 'start' });
  }

  /** SIGTERM/SIGINT: no new reconcile or change starts; in-flight engine calls finish; the lock is given back. */
  async stop(reason: string): Promise<void> {
    const { log } = this.options;
    log.line('stopping', `stopping (${reason}): finishing engine calls in flight, then releasing the lock`, { reason });
    this.abort.abort();
    if (this.retryTimer) clearTimeout(this.retryTimer.timer);
    await Promise.all(this.options.triggers.map((t) => t.stop()));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finished = await Promise.race([
      this.coalescer.close().then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), STOP_DEADLINE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      if (this.lock) log.line('stopping', 'engine calls still running after 8 s: releasing the lock now; run `sandboxshift plan` to see what is left');
      // The project's lock, and any taken inside the work that is still running (the engine-wide
      // policy lock, a shared image's build lock): the process exits next, and their own
      // `finally` would never run.
      await Promise.all([this.lock?.release().catch((err: unknown) => log.line('stopping', `could not release the lock: ${engineMessage(err)}`)), releaseHeldLocks()]);
    }
    log.line('stopped', 'stopped');
  }

  private async reconcile(hints: TriggerHint[]): Promise<void> {
    const { log } = this.options;
    if (this.abort.signal.aborted) return;
    const trigger = [...new Set(hints.map((h) => h.kind))].join(',');
    const detail = [...new Set(hints.flatMap((h) => (h.detail ? h.detail.split(',') : [])))].join(',');
    log.line('reconcile-start', `reconcile start trigger=${trigger}${detail ? ` (${detail})` : ''}`, { trigger, detail: detail || undefined });
    try {
      const loaded = await this.desired(hints);
      if (!loaded) {
        watchMetrics.reconciles.inc({ outcome: 'invalid-config' });
        return;
      }
      await this.converge(loaded, hints);
    } catch (err) {
      this.failed(err);
    }
    this.scheduleRetries();
  }

  /** The desired state to reconcile toward, or null for none this time (an invalid edit). */
  private async desired(hints: TriggerHint[]): Promise<Loaded | null> {
    const { log, configPath } = this.options;
    let loaded: Loaded;
    try {
      loaded = load(configPath);
    } catch (err) {
      if (!(err instanceof DiagnosticsError)) throw err;
      this.reportInvalid(err.diagnostics);
      if (!this.lastGood) {
        log.line('waiting', 'no valid config yet: nothing is reconciled until the config is valid');
        return null;
      }
      if (hints.every((h) => h.kind === 'config')) {
        log.line('invalid-config-kept', 'nothing changed: the last good config stays in force until the next valid edit');
        return null;
      }
      log.line('invalid-config-kept', 'reconciling toward the last good config (the file on disk is invalid)');
      return this.lastGood;
    }
    this.lastInvalid = null;
    const text = loaded.config.source;
    if (text !== this.lastGoodText) {
      if (this.lastGoodText !== null) {
        log.line('config', `config loaded: ${Object.keys(loaded.config.environments).length} environments (project ${loaded.desired.project})`);
        // An edit may be the fix: what failed before is tried again now, not after its backoff.
        this.failures.reset();
      }
      this.lastGoodText = text;
    }
    this.lastGood = loaded;
    for (const t of this.options.triggers) await t.configLoaded?.(loaded);
    return loaded;
  }

  private reportInvalid(diagnostics: readonly Diagnostic[]): void {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    const key = errors.map(formatDiagnostic).join('\n');
    if (key === this.lastInvalid) return; // said already, for this very text
    this.lastInvalid = key;
    for (const d of errors) {
      this.options.log.line('invalid-config', `invalid config: ${formatDiagnostic(d)}`, {
        diagnostic: { file: d.file, line: d.line, col: d.col, path: d.path, message: d.message, hint: d.hint },
      });
    }
  }

  /** Why /healthz says 503, or null: the loop stopping, or the engine not answering a ping. */
  async unhealthy(timeoutMs = 2_000): Promise<string | null> {
    if (this.abort.signal.aborted) return 'the watcher is stopping';
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const docker = await this.options.engine.docker();
      await Promise.race([
        docker.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return null;
    } catch (err) {
      return `engine unreachable (${isEngineUnreachable(err) ? (err as NodeJS.ErrnoException).code : engineMessage(err)})`;
    } finally {
      clearTimeout(timer);
    }
  }

  private async converge(loaded: Loaded, hints: TriggerHint[]): Promise<void> {
    const { log, engine } = this.options;
    const endTimer = watchMetrics.reconcileSeconds.startTimer();
    let reasons = new Map<string, string>();
    const outcome = await reconcileOnce(engine, loaded, {
      command: 'watch',
      parallelism: this.options.parallelism,
      signal: this.abort.signal,
      select: (plan) => {
        const selection = selectChanges(plan, { allowMassDelete: this.options.allowMassDelete, backoff: this.failures, now: Date.now() });
        this.applying = new Set(selection.apply.map((c) => c.name));
        reasons = new Map(selection.apply.map((c) => [c.address, c.reasons.map((r) => r.message).join('; ')]));
        return selection;
      },
      onLock: (lock) => {
        this.lock = lock;
      },
      onTakeover: (stale) =>
        log.line(
          'lock-takeover',
          stale.pid === process.pid
            ? `lock ${stale.id} left by this watcher (the engine went away before it was given back): taking it over`
            : `lock held by pid ${stale.pid} on this host, which is gone: taking it over`,
        ),
      onEvent: (e) => {
        if (e.type !== 'change-done') return;
        const why = reasons.get(e.address);
        log.line('change-done', `applied ${e.address}: ${e.kind}${why ? ` (${why})` : ''} in ${e.elapsedMs} ms`, { address: e.address, kind: e.kind, reason: why, elapsedMs: e.elapsedMs });
      },
    });
    this.applying = new Set();
    if (outcome.status === 'locked') {
      watchMetrics.reconciles.inc({ outcome: 'locked' });
      const delay = this.lockWait.fail('lock', Date.now());
      log.line('lock-held', `lock held by ${describeHolder(outcome.holder)}: waiting, retry in ${formatDelay(delay)}`, { holder: outcome.holder, retryMs: delay });
      this.retryIn(delay);
      return;
    }
    this.lockWait.succeed('lock');
    this.failures.succeed(WHOLE_RUN);
    endTimer();
    this.reportHeld(outcome.selection);
    const held = outcome.selection.held.length;
    const result = outcome.result;
    const bad = result ? result.failed.length + result.skipped.length : 0;
    watchMetrics.reconciles.inc({ outcome: bad ? 'failed' : held ? 'held' : result ? 'applied' : 'in-sync' });
    if (result && hints.some((h) => h.kind === 'engine')) watchMetrics.driftRepairs.inc(result.completed.length);
    if (result === null) {
      log.line('no-changes', held ? `no changes applied (${held} held back) in ${outcome.elapsedMs} ms` : `no changes (in sync) in ${outcome.elapsedMs} ms`, { held, elapsedMs: outcome.elapsedMs });
    } else {
      this.reportResult(result, outcome.elapsedMs);
      await this.recordFailures(loaded.desired.project, result);
    }
    for (const t of this.options.triggers) await t.reconciled?.(loaded, held === 0 && bad === 0);
  }

  /**
   * Repeated failure is visible in `status` from any machine: each failed change's count is
   * recorded on the engine; a change that completes has its record removed. A record that cannot
   * be written is logged, never fatal.
   */
  private async recordFailures(project: string, result: ApplyResult): Promise<void> {
    const docker = await this.options.engine.docker();
    const now = new Date().toISOString();
    for (const c of result.completed) this.failingSince.delete(c.address);
    const writes = [
      ...result.failed.map(async (f) => {
        const since = this.failingSince.get(f.address) ?? now;
        this.failingSince.set(f.address, since);
        await recordFailing(docker, project, { address: f.address, count: this.failures.failures(f.address), since, last: now, step: f.step ?? null, error: f.error });
      }),
      // One look for records of changes that just completed (ours, or left by an earlier watcher).
      ...(result.completed.length ? [clearFailing(docker, project, new Set(result.completed.map((c) => c.address)))] : []),
    ];
    for (const w of await Promise.allSettled(writes))
      if (w.status === 'rejected') this.options.log.line('record-failed', `could not record a failure on the engine: ${engineMessage(w.reason)}`, { error: engineMessage(w.reason) });
  }

  private reportHeld(selection: Selection): void {
    const { log } = this.options;
    const mass = selection.held.filter((h) => h.rule === 'mass-delete');
    if (mass.length && selection.massDelete) {
      const { deleting, of } = selection.massDelete;
      log.line(
        'held-back',
        `held back: the config deletes ${deleting} of ${of} environments at once (more than half): ${mass.map((h) => h.address).join(', ')}; restart the watcher with --allow-mass-delete if that is meant`,
        {
          rule: 'mass-delete',
          addresses: mass.map((h) => h.address),
        },
      );
    }
    for (const h of selection.held) if (h.rule !== 'mass-delete') log.line('held-back', `held back: ${h.reason}`, { rule: h.rule, address: h.address });
  }

  private reportResult(result: ApplyResult, elapsedMs: number): void {
    const { log } = this.options;
    const now = Date.now();
    for (const c of result.completed) this.failures.succeed(c.address);
    for (const f of result.failed) {
      watchMetrics.failures.inc({ kind: 'change' });
      const delay = this.failures.fail(f.address, now);
      log.line('change-failed', `failed: ${f.address}${f.step ? ` at ${f.step}` : ''}: ${f.error}; retry in ${formatDelay(delay)}`, {
        address: f.address,
        step: f.step,
        error: f.error,
        retryMs: delay,
      });
    }
    for (const s of result.skipped) log.line('change-skipped', `skipped: ${s.address}: ${s.because}`, { address: s.address });
    const n = result.completed.length;
    const bad = result.failed.length + result.skipped.length;
    log.line('applied', `applied ${n} change${n === 1 ? '' : 's'} in ${elapsedMs} ms${bad ? ` (${result.failed.length} failed, ${result.skipped.length} skipped)` : ''}`, {
      applied: n,
      failed: result.failed.length,
      skipped: result.skipped.length,
      elapsedMs,
    });
  }

  private failed(err: unknown): void {
    const { log } = this.options;
    watchMetrics.reconciles.inc({ outcome: 'failed' });
    watchMetrics.failures.inc({ kind: isEngineUnreachable(err) ? 'engine-unreachable' : 'reconcile' });
    const delay = this.failures.fail(WHOLE_RUN, Date.now());
    const why =
      err instanceof DiagnosticsError
        ? err.diagnostics
            .filter((d) => d.severity === 'error')
            .map(formatDiagnostic)
            .join('; ')
        : isEngineUnreachable(err)
          ? `engine unreachable (${(err as NodeJS.ErrnoException).code})`
          : engineMessage(err);
    log.line('reconcile-failed', `reconcile failed: ${why}; retry in ${formatDelay(delay)}`, { error: why, retryMs: delay });
    this.retryIn(delay);
  }

  /** A retry for every change still waiting out its backoff, at the earliest one's time. */
  private scheduleRetries(): void {
    const now = Date.now();
    const at = this.failures.nextRetryAt(now);
    if (at !== null) this.retryIn(at - now);
  }

  private retryIn(delayMs: number): void {
    if (this.abort.signal.aborted) return;
    const at = Date.now() + delayMs;
    if (this.retryTimer && this.retryTimer.at <= at) return;
    if (this.retryTimer) clearTimeout(this.retryTimer.timer);
    this.retryTimer = {
      at,
      timer: setTimeout(() => {
        this.retryTimer = null;
        this.coalescer.request({ kind: 'retry' });
      }, delayMs),
    };
  }
}

function describeHolder(holder: LockInfo | null): string {
  if (!holder) return 'another run (just released)';
  return `${holder.holder} pid ${holder.pid} (${holder.command}) since ${holder.since}`;
}
