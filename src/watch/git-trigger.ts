// `watch --git [REMOTE/BRANCH]`: fetch every --interval (or at once, on a signed webhook) and
// fast-forward the checkout that holds the config. Only a fast-forward: a diverged history is
// reported with both commit ids and nothing is taken; local edits a fast-forward would
// overwrite are reported and kept. A commit whose config is invalid is reported with its id and
// diagnostics, checked before the checkout moves; checkout and engine stay at the last good
// commit until a later good one. After a clean reconcile of a committed config, that commit is recorded on the
// engine, where `status` and the next watcher read it.
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { Loaded } from '../app/pipeline.js';
import { loadConfigAt } from '../config/index.js';
import { DiagnosticsError, errorDiag, formatDiagnostic } from '../diagnostics.js';
import { engineMessage, type Engine } from '../engine/client.js';
import { readAppliedCommit, recordAppliedCommit, type AppliedCommit } from '../engine/applied-record.js';
import { blockingEdits, fastForwardDecision, GitRepo, short, splitRemoteRef } from './git.js';
import { setAppliedCommit } from './metrics.js';
import type { Trigger, TriggerSink } from './trigger.js';

export const GIT_INTERVAL_MS = 15_000;

export interface GitTriggerOptions {
  configPath: string;
  engine: Engine;
  /** `remote/branch`, or null for the checked-out branch's upstream. */
  ref: string | null;
  intervalMs: number;
}

export class GitTrigger implements Trigger {
  readonly name = 'git';
  private repo: GitRepo | null = null;
  private remote = '';
  private branch = '';
  private sink: TriggerSink | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private polling: Promise<void> | null = null;
  private again: string | null = null;
  private stopped = false;
  /** The last refusal said (diverged, blocked, invalid), so a poll every 15 s does not repeat it. */
  private lastSaid = '';
  private project: string | null = null;
  private applied: AppliedCommit | null = null;
  /** The commit whose config the watcher loaded last, or null when the file differs from HEAD's. */
  private loadedCommit: string | null = null;
  readonly by = `watch@${hostname()}`;

  constructor(private readonly options: GitTriggerOptions) {}

  /** `origin/main` once started. */
  get following(): string {
    return `${this.remote}/${this.branch}`;
  }

  async start(sink: TriggerSink): Promise<void> {
    this.sink = sink;
    const { configPath, ref } = this.options;
    const repo = await GitRepo.at(dirname(configPath));
    if (!repo) throw refusal(`watch --git: ${configPath} is not in a git repository`, 'clone the repository and run watch in it, or leave out --git');
    const branch = await repo.branch();
    if (!branch) throw refusal(`watch --git: the checkout at ${repo.root} has no branch checked out (detached HEAD)`, 'check out the branch to follow, e.g. git switch main');
    const target = ref ?? (await repo.upstream());
    if (!target) throw refusal(`watch --git: branch ${branch} has no upstream`, `name one: --git origin/${branch}, or set it with git branch --set-upstream-to origin/${branch}`);
    const split = splitRemoteRef(target);
    if (!split) throw refusal(`watch --git: '${target}' is not REMOTE/BRANCH`, 'e.g. --git origin/main');
    this.repo = repo;
    ({ remote: this.remote, branch: this.branch } = split);
    sink.log.line('git', `git: following ${this.following} into ${branch} at ${short(await repo.head())} (${repo.root}), fetching every ${Math.round(this.options.intervalMs / 1000)}s`, {
      remote: this.remote,
      branch: this.branch,
      repo: repo.root,
    });
    this.timer = setInterval(() => this.fetchNow('interval'), this.options.intervalMs);
    this.fetchNow('start');
  }

  /** Fetch now (a poll, or a signed webhook); one fetch at a time, a request during one runs once after it. */
  fetchNow(why: string): void {
    if (this.stopped) return;
    if (this.polling) {
      this.again = why;
      return;
    }
    this.polling = this.poll(why).finally(() => {
      this.polling = null;
      const next = this.again;
      this.again = null;
      if (next) this.fetchNow(next);
    });
  }

  private async poll(why: string): Promise<void> {
    const repo = this.repo!;
    const sink = this.sink!;
    let remoteCommit: string;
    try {
      remoteCommit = await repo.fetch(this.remote, this.branch);
    } catch (err) {
      this.sayOnce(`fetch:${(err as Error).message}`, 'git-fetch-failed', `git: fetch of ${this.following} failed: ${firstLine(err)}; trying again in ${Math.round(this.options.intervalMs / 1000)}s`);
      return;
    }
    const head = await repo.head();
    const decision = fastForwardDecision(head, remoteCommit, await repo.mergeBase(head, remoteCommit));
    if (decision.kind === 'up-to-date' || decision.kind === 'local-ahead') {
      if (why === 'webhook') sink.log.line('git-current', `git: ${this.following} is at ${short(remoteCommit)}; the checkout is at ${short(head)}: nothing to take`);
      return;
    }
    if (decision.kind === 'diverged') {
      this.sayOnce(
        `diverged:${head}:${remoteCommit}`,
        'git-diverged',
        `git: ${this.following} at ${short(remoteCommit)} has diverged from the checkout at ${short(head)} (not a fast-forward): nothing applied; the engine stays at ${short(head)}. Reconcile the histories by hand (git pull --rebase, or reset the branch) to resume`,
        { remote: remoteCommit, head },
      );
      return;
    }
    const blocked = blockingEdits(await repo.changedPaths(head, remoteCommit), await repo.dirtyPaths());
    if (blocked.length) {
      this.sayOnce(
        `blocked:${remoteCommit}:${blocked.join(',')}`,
        'git-blocked',
        `git: cannot fast-forward to ${short(remoteCommit)}: local edits to ${blocked.join(', ')} in ${repo.root} would be overwritten; nothing applied, the edits are kept. Commit, stash or discard them to resume`,
        { remote: remoteCommit, head, paths: blocked },
      );
      return;
    }
    // The incoming config is checked before the checkout moves: an invalid commit leaves the
    // checkout (and `status`, `plan` run in it) at the last good one.
    const incoming = await loadConfigAt(this.options.configPath, remoteCommit);
    const errors = incoming.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length) {
      const diags = errors.map(formatDiagnostic);
      this.sayOnce(
        `invalid:${remoteCommit}`,
        'git-invalid',
        `git: commit ${short(remoteCommit)} has an invalid config: not applied; the engine stays at ${this.applied ? short(this.applied.commit) : short(head)} until a later good commit: ${diags.join('; ')}`,
        { commit: remoteCommit, diagnostics: diags },
      );
      return;
    }
    try {
      await repo.fastForward(remoteCommit);
    } catch (err) {
      this.sayOnce(`ff:${remoteCommit}`, 'git-blocked', `git: cannot fast-forward to ${short(remoteCommit)}: ${firstLine(err)}; nothing applied`, { remote: remoteCommit, head });
      return;
    }
    this.lastSaid = '';
    sink.log.line('git-fast-forward', `git: fast-forwarded ${short(head)}..${short(remoteCommit)} from ${this.following} (${why})`, { from: head, to: remoteCommit, why });
    sink.request({ kind: 'git', detail: short(remoteCommit) });
  }

  async configLoaded(loaded: Loaded): Promise<void> {
    const repo = this.repo;
    if (!repo) return;
    const head = await repo.head();
    // Only a config exactly as committed is that commit's; a local edit is nobody's commit.
    this.loadedCommit = (await repo.show(head, this.options.configPath)) === loaded.config.source ? head : null;
    if (loaded.desired.project === this.project) return;
    this.project = loaded.desired.project;
    this.applied = await readAppliedCommit(await this.options.engine.docker(), this.project);
    if (this.applied) {
      setAppliedCommit(this.applied.commit);
      this.sink?.log.line('git-resume', `git: resuming from ${short(this.applied.commit)} (applied ${this.applied.at} by ${this.applied.by}); the checkout is at ${short(head)}`, {
        commit: this.applied.commit,
        head,
      });
    }
  }

  async reconciled(loaded: Loaded, clean: boolean): Promise<void> {
    const commit = this.loadedCommit;
    if (!clean || !commit || commit === this.applied?.commit) return;
    const applied = { commit, at: new Date().toISOString(), by: this.by };
    try {
      await recordAppliedCommit(await this.options.engine.docker(), loaded.desired.project, applied);
    } catch (err) {
      this.sink?.log.line('git-record-failed', `git: applied ${short(commit)}, but could not record it on the engine: ${engineMessage(err)}; the next clean reconcile tries again`);
      return;
    }
    this.applied = applied;
    setAppliedCommit(commit);
    this.sink?.log.line('git-applied', `git: at ${short(commit)}, applied ${applied.at} by ${applied.by}`, { commit, at: applied.at, by: applied.by });
  }

  private sayOnce(key: string, event: string, message: string, fields?: Record<string, unknown>): void {
    if (key === this.lastSaid) return;
    this.lastSaid = key;
    this.sink?.log.line(event, message, fields);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.polling;
  }
}

function refusal(message: string, hint: string): DiagnosticsError {
  return new DiagnosticsError([errorDiag(message, { hint })]);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).trim().split('\n')[0] ?? '';
}
