// The idle clock: for every environment with an idle policy, samples its activity signals (often
// near its deadline, seldom far from it), folds them into its tracker, and at the deadline stops
// or pauses it through the engine lock (app/idle.ts). Never before the deadline: the decision is
// made on a sample taken at or after it. Exec sessions started between samples come from the
// engine's event stream, so a short one is not missed.
import { watchMetrics } from './metrics.js';
import type { Loaded } from '../app/pipeline.js';
import { enforceIdle, IDLE_STOP_GRACE_SECONDS } from '../app/idle.js';
import { engineMessage, type Engine } from '../engine/client.js';
import { sampleActivity } from '../engine/idle-signals.js';
import { idleMarks, touchTimes } from '../engine/idle-record.js';
import { Labels } from '../engine/labels.js';
import { formatDelay } from './backoff.js';
import { ReconnectingEventStream } from './event-stream.js';
import { IdleTracker, nextCheck, type IdleState } from './idle-tracker.js';
import type { Trigger, TriggerSink } from './trigger.js';

interface Policy {
  stopAfterMs: number;
  action: 'stop' | 'pause';
  cpuPercent: number;
  egress: boolean;
}

interface Watched {
  policy: Policy;
  tracker: IdleTracker;
  containerId: string | null;
  nextAt: number;
}

const LOCKED_RETRY_MS = 1_000;
/** When the watcher's own reconcile holds the lock: it is done within a moment. */
const LOCKED_RETRY_OWN_MS = 200;

export class IdleTrigger implements Trigger {
  readonly name = 'idle';
  private sink: TriggerSink | null = null;
  private project: string | null = null;
  private readonly watched = new Map<string, Watched>();
  private readonly execStarted = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ticking: Promise<void> | null = null;
  private events: ReconnectingEventStream | null = null;
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    private readonly now: () => number = Date.now,
  ) {}

  async start(sink: TriggerSink): Promise<void> {
    this.sink = sink;
  }

  async configLoaded(loaded: Loaded): Promise<void> {
    const project = loaded.desired.project;
    if (project !== this.project) {
      this.watched.clear();
      this.project = project;
      await this.listen(project);
    }
    const policies = new Map<string, Policy>();
    for (const env of Object.values(loaded.config.environments)) {
      if (env.idle.stopAfterSeconds === null) continue;
      policies.set(env.name, { stopAfterMs: env.idle.stopAfterSeconds * 1000, action: env.idle.action, cpuPercent: env.idle.cpuPercent, egress: env.egress.mode === 'allow' });
    }
    const now = this.now();
    for (const name of [...this.watched.keys()]) if (!policies.has(name)) this.watched.delete(name);
    for (const [name, policy] of policies) {
      const w = this.watched.get(name);
      if (w) {
        w.policy = policy;
        w.tracker.setOptions(policy);
        w.nextAt = Math.min(w.nextAt, now);
      } else this.watched.set(name, { policy, tracker: new IdleTracker(policy, now), containerId: null, nextAt: now });
    }
    this.schedule();
  }

  /** The trackers' view, for status lines and tests. */
  states(): Map<string, IdleState> {
    return new Map([...this.watched].map(([name, w]) => [name, w.tracker.state()]));
  }

  private schedule(): void {
    if (this.stopped || this.ticking) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    let next = Infinity;
    for (const w of this.watched.values()) next = Math.min(next, w.nextAt);
    if (next === Infinity) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.ticking = this.tick()
          .catch((err: unknown) => this.sink?.log.line('idle-error', `idle: could not read activity: ${engineMessage(err)}; trying again in 2s`))
          .finally(() => {
            this.ticking = null;
            this.schedule();
          });
      },
      Math.max(0, next - this.now()),
    );
  }

  private async tick(): Promise<void> {
    const project = this.project;
    if (!project || !this.sink) return;
    const docker = await this.engine.docker();
    const now = this.now();
    const due = [...this.watched].filter(([, w]) => w.nextAt <= now);
    if (due.length === 0) return;
    for (const [, w] of due) w.nextAt = now + 2_000; // kept if anything below throws
    // One list call for all: containers, idle and touch records.
    const listed = await docker.listContainers({ all: true, filters: { label: [`${Labels.project}=${project}`] } });
    const marks = idleMarks(listed);
    const touched = touchTimes(listed);
    const containers = new Map(listed.filter((c) => c.Labels?.[Labels.role] === 'environment').map((c) => [c.Labels?.[Labels.environment] ?? '', c]));
    const toAct: Array<{ env: string; w: Watched; containerId: string; state: IdleState }> = [];
    await Promise.all(
      due.map(async ([name, w]) => {
        const c = containers.get(name);
        if (!c || c.State !== 'running' || marks.has(name)) {
          // Not running (stopped by the policy, by hand, or not made yet): nothing to judge; look again later.
          w.nextAt = this.now() + 5_000;
          return;
        }
        if (w.containerId !== c.Id) {
          // A new container (made again, or woken): its own start counts as activity.
          w.containerId = c.Id;
        }
        const sample = await sampleActivity(docker, project, name, c.Id, { egress: w.policy.egress, cpu: true });
        const state = w.tracker.observe(sample, { touched: touched.get(name) ?? null, execStarted: this.execStarted.get(name) ?? null });
        if (sample.state !== 'running') {
          w.nextAt = this.now() + 5_000;
          return;
        }
        if (sample.at < state.deadline) {
          w.nextAt = nextCheck(sample.at, state.deadline);
          return;
        }
        toAct.push({ env: name, w, containerId: c.Id, state });
      }),
    );
    if (toAct.length) await this.act(project, toAct);
  }

  private async act(project: string, due: Array<{ env: string; w: Watched; containerId: string; state: IdleState }>): Promise<void> {
    const log = this.sink!.log;
    // Their stops' own engine events are not drift (the idle record says so to reconciles; this, to the log).
    for (const d of due) this.sink!.changing?.(d.env, this.now() + (IDLE_STOP_GRACE_SECONDS + 5) * 1000);
    const batch = await enforceIdle(
      this.engine,
      project,
      due.map((d) => ({ project, environment: d.env, containerId: d.containerId, action: d.w.policy.action, since: d.state.lastActivity })),
    );
    const at = this.now();
    if (batch.status === 'locked') {
      const holder = batch.holder;
      // Our own reconcile holds it for a moment (often the one the last stop's events asked for): look again soon.
      const ours = holder !== null && holder.pid === process.pid;
      const retry = ours ? LOCKED_RETRY_OWN_MS : LOCKED_RETRY_MS;
      if (!ours)
        log.line(
          'idle-wait',
          `idle: ${due.map((d) => `environment.${d.env}`).join(', ')} due, but the lock is held${holder ? ` by ${holder.holder} (${holder.command})` : ''}: trying again in ${formatDelay(retry)}`,
        );
      for (const d of due) d.w.nextAt = at + retry;
      return;
    }
    for (const d of due) {
      this.sink!.changing?.(d.env, at + 2_000);
      d.w.nextAt = at + 5_000;
      const outcome = batch.outcomes.get(d.env);
      if (outcome?.status !== 'done') continue;
      const { w, state, env } = d;
      const verb = w.policy.action === 'pause' ? 'paused' : 'stopped';
      watchMetrics.idleStops.inc({ action: w.policy.action });
      const idleFor = Math.round((state.deadline - state.lastActivity) / 1000);
      log.line(
        'idle-stop',
        `idle: environment.${env} ${verb} (no activity for ${idleFor}s; last: ${state.signal} at ${new Date(state.lastActivity).toISOString()}; ${at - state.deadline} ms after its deadline)`,
        {
          environment: env,
          action: w.policy.action,
          lastActivity: new Date(state.lastActivity).toISOString(),
          signal: state.signal,
          deadline: new Date(state.deadline).toISOString(),
          lateMs: at - state.deadline,
          elapsedMs: outcome.elapsedMs,
        },
      );
    }
  }

  /**
   * Exec and attach sessions as they start: moments a sample between them would miss. The stream
   * reconnects with capped backoff when it is lost (an engine restart); sessions started while it
   * was gone and still running are seen at the next sample.
   */
  private async listen(project: string): Promise<void> {
    this.closeEvents();
    if (this.stopped) return;
    this.events = new ReconnectingEventStream(
      this.engine,
      { type: ['container'], event: ['exec_create', 'exec_start', 'attach'], label: [`${Labels.project}=${project}`, `${Labels.role}=environment`] },
      {
        event: (event) => {
          const e = event as { Actor?: { Attributes?: Record<string, string> }; timeNano?: number };
          const env = e.Actor?.Attributes?.[Labels.environment];
          if (env) this.execStarted.set(env, e.timeNano ? Math.floor(e.timeNano / 1e6) : this.now());
        },
        unreadable: (line) => this.sink?.log.line('idle-error', `idle: unreadable engine event skipped (${line.slice(0, 80)})`),
        lost: (why, retryMs) =>
          this.sink?.log.line('idle-events', `idle: exec events lost (${why}); reconnecting in ${formatDelay(retryMs)}; running sessions are still seen at each sample`, { retryMs }),
        back: () => this.sink?.log.line('idle-events', 'idle: exec events connected again'),
      },
      this.now,
    );
    await this.events.open();
  }

  private closeEvents(): void {
    this.events?.close();
    this.events = null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.closeEvents();
    await this.ticking;
  }
}
