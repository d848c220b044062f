// Activity signals of one environment, read cheaply from outside: one inspect (state, start
// time, exec sessions), a one-shot stats call (cumulative CPU time), a HEAD on the archive API
// for the heartbeat file's mtime (never an exec: that would itself be activity), and one archive
// read of its egress proxy's stats file. The judging is the tracker's (watch/idle-tracker.ts).
import { readFile } from 'node:fs/promises';
import { HEARTBEAT_PATH, proxyName } from '../model/names.js';
import { statusCode, type Docker } from './client.js';
import { readProxyStats } from './proxy-stats.js';

export interface ActivitySample {
  /** When it was read (ms). */
  at: number;
  state: string;
  /** When the container last started (ms), or null. */
  startedAt: number | null;
  /** An exec session is running in it. */
  execRunning: boolean;
  /** Cumulative CPU time (ns), or null when the engine did not say. */
  cpuNs: number | null;
  /** Its egress proxy's figures, when it has one. */
  proxy: { open: number; lastActivity: number | null } | null;
  /** The heartbeat file's mtime (ms), or null when there is none. */
  heartbeat: number | null;
}

export async function sampleActivity(engine: Docker, project: string, env: string, containerId: string, opts: { egress: boolean; cpu: boolean }): Promise<ActivitySample> {
  const c = engine.getContainer(containerId);
  const info = await c.inspect();
  const running = info.State.Status === 'running';
  const [execRunning, cpuNs, proxy, heartbeat] = await Promise.all([
    running ? anyExecRunning(engine, (info as { ExecIDs?: string[] | null }).ExecIDs ?? []) : false,
    running && opts.cpu ? cpuTime(engine, containerId) : null,
    opts.egress ? proxyFigures(engine, proxyName(project, env)) : null,
    heartbeatTime(engine, containerId),
  ]);
  const started = Date.parse(info.State.StartedAt);
  return { at: Date.now(), state: info.State.Status, startedAt: Number.isFinite(started) && started > 0 ? started : null, execRunning, cpuNs, proxy, heartbeat };
}

async function anyExecRunning(engine: Docker, ids: string[]): Promise<boolean> {
  for (const id of ids) {
    try {
      if ((await engine.getExec(id).inspect()).Running) return true;
    } catch (err) {
      if (statusCode(err) !== 404) throw err; // ended and gone between the two calls
    }
  }
  return false;
}

/**
 * Where the engine's host keeps a container's CPU time (cgroup v1 cgroupfs, v2 cgroupfs, v2
 * systemd), for Docker and then for Podman run as root (its cgroups are libpod_parent/libpod-ID
 * with cgroupfs, machine.slice/libpod-ID.scope with systemd).
 */
const CGROUP_CPU = [
  (id: string) => ({ path: `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, read: cpuacctUsage }),
  (id: string) => ({ path: `/sys/fs/cgroup/docker/${id}/cpu.stat`, read: usageUsec }),
  (id: string) => ({ path: `/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, read: usageUsec }),
  (id: string) => ({ path: `/sys/fs/cgroup/cpuacct/libpod_parent/libpod-${id}/cpuacct.usage`, read: cpuacctUsage }),
  (id: string) => ({ path: `/sys/fs/cgroup/libpod_parent/libpod-${id}/cpu.stat`, read: usageUsec }),
  (id: string) => ({ path: `/sys/fs/cgroup/machine.slice/libpod-${id}.scope/cpu.stat`, read: usageUsec }),
];

function cpuacctUsage(text: string): number {
  return Number(text.trim());
}

function usageUsec(text: string): number {
  const m = /^usage_usec (\d+)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : NaN;
}

async function cpuTime(engine: Docker, id: string): Promise<number | null> {
  // On the engine's own host the cgroup file answers in microseconds; the stats API takes about
  // a second even one-shot (it waits for the engine's collector), which would make every stop late.
  for (const where of CGROUP_CPU) {
    const { path, read } = where(id);
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EACCES') return null;
      throw err;
    });
    if (text === null) continue;
    const ns = read(text);
    if (Number.isFinite(ns)) return ns;
  }
  const stats = (await engine.getContainer(id).stats({ stream: false, 'one-shot': true } as { stream: false })) as { cpu_stats?: { cpu_usage?: { total_usage?: number } } };
  const ns = stats.cpu_stats?.cpu_usage?.total_usage;
  return typeof ns === 'number' ? ns : null;
}

async function proxyFigures(engine: Docker, proxy: string): Promise<ActivitySample['proxy']> {
  // Unreadable figures are no figures, never activity.
  const { stats } = await readProxyStats(engine, proxy);
  if (!stats) return null;
  const last = stats.lastActivity ? Date.parse(stats.lastActivity) : NaN;
  return { open: stats.openConnections, lastActivity: Number.isFinite(last) ? last : null };
}

/** mtime of the heartbeat file, read with the archive API's HEAD (a stat, no exec). */
export async function heartbeatTime(engine: Docker, id: string): Promise<number | null> {
  let res: { headers: Record<string, string | undefined>; resume(): void };
  try {
    res = (await engine.getContainer(id).infoArchive({ path: HEARTBEAT_PATH })) as typeof res;
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
  res.resume();
  const header = res.headers['x-docker-container-path-stat'];
  if (!header) return null;
  const stat = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { mtime?: string };
  const mtime = stat.mtime ? Date.parse(stat.mtime) : NaN;
  return Number.isFinite(mtime) ? mtime : null;
}
