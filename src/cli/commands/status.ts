import { observe, readAppliedCommit, type AppliedCommit, type Docker } from '../../engine/index.js';
import { sampleActivity } from '../../engine/idle-signals.js';
import { readFailing, type FailingChange } from '../../engine/failing-record.js';
import type { EnvironmentConfig } from '../../config/types.js';
import type { ObservedState } from '../../model/observed.js';
import { IdleTracker } from '../../watch/idle-tracker.js';
import { shortId } from '../../plan/format.js';
import { connectEngine, load } from '../../app/pipeline.js';
import { configPath, parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';

export const statusHelp = `Usage: sandboxshift status [--json] [--config FILE]

Shows each environment's state on the engine: running, stopped or missing, with its
container, image and workspace volume. Workspace volumes that belong to no environment in
the config (removed or renamed environments) are listed as orphaned. When \`watch --git\` has
applied a commit, it is shown: "at abc1234, applied 2026-12-02 12:03:07Z by watch@host"; changes
\`watch\` keeps failing to apply are listed with their count, since when, the step and the error.`;

export interface EnvironmentStatus {
  name: string;
  state: 'running' | 'stopped' | 'missing' | 'paused' | 'not-in-config' | 'orphaned' | 'idle-stopped' | 'idle-paused';
  container_id: string | null;
  container_name: string | null;
  image: string | null;
  volume: string | null;
  /** Its extra named volumes (`volumes:`), declared or on the engine. */
  volumes: VolumeStatus[];
  in_config: boolean;
  /** For an orphaned workspace: what to do about it. */
  note?: string;
  /** With an idle policy (or stopped by one): what the engine shows of its activity. */
  idle?: IdleStatus;
}

export interface VolumeStatus {
  name: string;
  volume_name: string;
  /** Where the config mounts it; null when the config no longer declares it. */
  path: string | null;
  /** created: on the engine; missing: made by the next apply; orphaned: on the engine, no longer declared (kept). */
  state: 'created' | 'missing' | 'orphaned';
}

export interface IdleStatus {
  /** `30m`-style policy, or null when the config has none (but a record says it was stopped). */
  stop_after_seconds: number | null;
  action: 'stop' | 'pause';
  /** Stopped or paused by the policy: since when it was idle. */
  idle_since: string | null;
  last_activity: { signal: string; at: string } | null;
  idle_for_seconds: number | null;
  stops_at: string | null;
}

export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse('status', argv, { json: { type: 'boolean' } });
  const loaded = load(configPath(values), { needSecrets: false, readBuildContexts: false });
  const engine = connectEngine();
  const observed = await observe(engine, loaded.desired.project);
  const applied = await readAppliedCommit(await engine.docker(), loaded.desired.project);
  const names = [...new Set([...loaded.desired.environments.keys(), ...observed.containers.keys(), ...observed.volumes.keys(), ...(observed.dataVolumes?.keys() ?? [])])].sort();
  const movedTo = new Map([...loaded.desired.moved].map(([to, from]) => [from, to]));
  const rows: EnvironmentStatus[] = names.map((name) => {
    const c = observed.containers.get(name);
    const inConfig = loaded.desired.environments.has(name);
    const orphan = !c && !inConfig;
    const state: EnvironmentStatus['state'] = orphan
      ? 'orphaned'
      : !c
        ? 'missing'
        : !inConfig
          ? 'not-in-config'
          : c.state === 'running' || c.state === 'restarting'
            ? 'running'
            : c.state === 'paused'
              ? 'paused'
              : 'stopped';
    return {
      name,
      state,
      container_id: c?.id ?? null,
      container_name: c?.name ?? null,
      image: c?.image ?? loaded.desired.environments.get(name)?.spec.image ?? null,
      volume: observed.volumes.get(name)?.name ?? null,
      volumes: volumeStatus(name, loaded.desired.environments.get(name)?.volumes ?? [], observed),
      in_config: inConfig,
      ...(orphan
        ? {
            note: movedTo.has(name)
              ? `moved to ${movedTo.get(name)}; kept until destroy --purge-volumes --target ${name}`
              : `no environment uses it; add moved: [{ from: ${name}, to: NEW }] to keep its files, or destroy --purge-volumes --target ${name}`,
          }
        : {}),
    };
  });
  const docker = await engine.docker();
  await Promise.all(
    rows.map(async (r) => {
      const idle = await idleStatus(docker, loaded.desired.project, loaded.config.environments[r.name], observed, r.name);
      if (idle) {
        r.idle = idle;
        if (idle.idle_since) r.state = ('idle-' + (idle.action === 'pause' ? 'paused' : 'stopped')) as EnvironmentStatus['state'];
      }
    }),
  );
  // Changes `watch` keeps failing to apply, as it recorded them on the engine.
  // A record of an environment that is neither in the config nor on the engine any more is history, not shown.
  const known = new Set(names.map((n) => `environment.${n}`));
  const failing = (await readFailing(docker, loaded.desired.project)).filter((f) => !f.address.startsWith('environment.') || known.has(f.address));
  if (values.json) {
    io.out(`${JSON.stringify({ format_version: '1.0', project: loaded.desired.project, applied_commit: applied, failing, environments: rows }, null, 2)}\n`);
    return EXIT_OK;
  }
  const withIdle = rows.some((r) => r.idle);
  const idleCells = (r: EnvironmentStatus) => (withIdle ? idleColumns(r.idle) : []);
  const table = [
    ['ENVIRONMENT', 'STATE', 'CONTAINER', 'IMAGE', 'VOLUME', ...(withIdle ? ['LAST ACTIVITY', 'IDLE FOR', 'STOPS AT'] : [])],
    ...rows.map((r) => [r.name, r.state, r.container_id ? shortId(r.container_id) : '-', r.image ?? '-', r.volume ?? '-', ...idleCells(r)]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table)
    io.out(
      `${row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  if (applied) io.out(`\n${describeApplied(applied)}\n`);
  if (failing.length) io.out(`\nFailing under watch (retried with backoff):\n${failing.map(describeFailing).join('\n')}\n`);
  const volumes = rows.flatMap((r) => r.volumes.map((v) => `  ${r.name}: ${v.name} ${v.path ?? '(not declared)'} → ${v.volume_name} (${v.state})`));
  if (volumes.length) io.out(`\nVolumes:\n${volumes.join('\n')}\n`);
  const orphans = rows.filter((r) => r.note);
  if (orphans.length) io.out(`\n${orphans.map((r) => `${r.volume ?? r.volumes.map((v) => v.volume_name).join(', ')} is orphaned: ${r.note}`).join('\n')}\n`);
  const dropped = rows
    .filter((r) => !r.note)
    .flatMap((r) =>
      r.volumes.filter((v) => v.state === 'orphaned').map((v) => `${v.volume_name} is orphaned: no longer under environment '${r.name}' volumes; kept (docker volume rm ${v.volume_name} deletes it)`),
    );
  if (dropped.length) io.out(`\n${dropped.join('\n')}\n`);
  return EXIT_OK;
}

/** The environment's declared volumes (made or not yet), then those on the engine it no longer declares. */
function volumeStatus(env: string, declared: ReadonlyArray<{ name: string; path: string; volumeName: string }>, observed: ObservedState): VolumeStatus[] {
  const onEngine = observed.dataVolumes?.get(env) ?? [];
  return [
    ...declared.map((v) => ({ name: v.name, volume_name: v.volumeName, path: v.path, state: onEngine.some((o) => o.name === v.volumeName) ? ('created' as const) : ('missing' as const) })),
    ...onEngine.filter((o) => !declared.some((v) => v.volumeName === o.name)).map((o) => ({ name: o.volume, volume_name: o.name, path: null, state: 'orphaned' as const })),
  ];
}

/** `environment.a: failed 3 times in a row since 12:00:01Z (last 12:00:08Z) at create-container: …`. */
export function describeFailing(f: FailingChange): string {
  const time = (iso: string) => /T(\d\d:\d\d:\d\d)/.exec(iso)?.[1] ?? iso;
  const times = f.count === 1 ? 'once' : `${f.count} times in a row`;
  return `  ${f.address}: failed ${times} since ${time(f.since)}Z (last ${time(f.last)}Z)${f.step ? ` at ${f.step}` : ''}: ${f.error}`;
}

/** `at abc1234, applied 2026-12-02 12:03:07Z by watch@host`. */
export function describeApplied(applied: AppliedCommit): string {
  const at = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(applied.at);
  return `at ${applied.commit.slice(0, 7)}, applied ${at ? `${at[1]} ${at[2]}Z` : applied.at} by ${applied.by}`;
}

function idleColumns(idle: IdleStatus | undefined): string[] {
  if (!idle) return ['-', '-', '-'];
  const last = idle.last_activity ? `${idle.last_activity.signal} ${idle.last_activity.at}` : '-';
  const idleFor = idle.idle_for_seconds === null ? '-' : `${idle.idle_for_seconds}s`;
  const stops = idle.idle_since ? `(idle since ${idle.idle_since}, by policy)` : (idle.stops_at ?? '-');
  return [last, idleFor, stops];
}

/**
 * What the engine shows of an environment's idleness: its idle record, and its last activity
 * from the signals one look can read (start, exec sessions, egress connections and requests,
 * the heartbeat file, touch). CPU needs two samples over time: the watcher judges it, status does not.
 */
async function idleStatus(engine: Docker, project: string, env: EnvironmentConfig | undefined, observed: ObservedState, name: string): Promise<IdleStatus | undefined> {
  const mark = observed.idle?.get(name) ?? null;
  const policy = env && env.idle.stopAfterSeconds !== null ? env.idle : null;
  const c = observed.containers.get(name);
  if (!c || (!mark && !policy)) return undefined;
  const base: IdleStatus = {
    stop_after_seconds: policy?.stopAfterSeconds ?? null,
    action: mark?.action ?? policy?.action ?? 'stop',
    idle_since: mark?.since ?? null,
    last_activity: mark ? { signal: 'idle', at: mark.since } : null,
    idle_for_seconds: mark ? Math.max(0, Math.round((Date.now() - Date.parse(mark.since)) / 1000)) : null,
    stops_at: null,
  };
  if (mark || !policy || c.state !== 'running') return base;
  const sample = await sampleActivity(engine, project, name, c.id, { egress: env!.egress.mode === 'allow', cpu: false });
  const tracker = new IdleTracker({ stopAfterMs: policy.stopAfterSeconds! * 1000, cpuPercent: policy.cpuPercent }, 0);
  const state = tracker.observe(sample, { touched: observed.touched?.get(name) ?? null });
  return {
    ...base,
    last_activity: { signal: state.signal, at: new Date(state.lastActivity).toISOString() },
    idle_for_seconds: Math.max(0, Math.round((sample.at - state.lastActivity) / 1000)),
    stops_at: new Date(state.deadline).toISOString(),
  };
}
