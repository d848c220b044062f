// An egress proxy's live figures: the stats file it rewrites (atomically, at most once a second)
// while it runs, read with one archive call, so `egress ENV` and the idle watcher see open
// connections and bytes moved without asking the proxy anything.
import { extract } from 'tar-stream';
import { PROXY_STATS_PATH } from '../model/names.js';
import { statusCode, type Docker } from './client.js';

export interface ProxyStats {
  /** When the proxy wrote the file, and when it started (ISO). */
  ts: string;
  startedAt: string;
  policyHash: string;
  openConnections: number;
  connectionsTotal: number;
  requestsTotal: number;
  deniedTotal: number;
  /** Sandbox → internet. */
  bytesUp: number;
  /** Internet → sandbox. */
  bytesDown: number;
  /** The last decision or byte moved either way (ISO); null before any. */
  lastActivity: string | null;
}

export type ProxyStatsRead = { stats: ProxyStats; note: null } | { stats: null; note: string };

/** The proxy's live figures, or null with the reason they cannot be read. */
export async function readProxyStats(docker: Docker, containerIdOrName: string): Promise<ProxyStatsRead> {
  let archive: NodeJS.ReadableStream;
  try {
    archive = await docker.getContainer(containerIdOrName).getArchive({ path: PROXY_STATS_PATH });
  } catch (err) {
    // 404: no such container, or a proxy that writes no stats file (an older proxy image).
    if (statusCode(err) === 404) return { stats: null, note: `no live figures: the proxy has no ${PROXY_STATS_PATH} (an image that does not write them, or it just started)` };
    throw err;
  }
  const text = await firstFile(archive);
  if (text === null) return { stats: null, note: `no live figures: the proxy's ${PROXY_STATS_PATH} is not a file` };
  return parseProxyStats(text);
}

/** The stats file's content, checked field by field (contract format_version 1). */
export function parseProxyStats(text: string): ProxyStatsRead {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { stats: null, note: `no live figures: ${PROXY_STATS_PATH} is not JSON` };
  }
  if (typeof value !== 'object' || value === null) return { stats: null, note: `no live figures: ${PROXY_STATS_PATH} is not an object` };
  if (value.format_version !== '1') return { stats: null, note: `no live figures: ${PROXY_STATS_PATH} has format_version ${JSON.stringify(value.format_version)}, this version reads "1"` };
  const counts = ['open_connections', 'connections_total', 'requests_total', 'denied_total', 'bytes_up', 'bytes_down'] as const;
  const texts = ['ts', 'started_at', 'policy_hash'] as const;
  const bad = [
    ...counts.filter((k) => !Number.isInteger(value[k]) || Number(value[k]) < 0),
    ...texts.filter((k) => typeof value[k] !== 'string'),
    ...(value.last_activity === null || typeof value.last_activity === 'string' ? [] : ['last_activity']),
  ];
  if (bad.length) return { stats: null, note: `no live figures: ${PROXY_STATS_PATH} lacks or garbles ${bad.join(', ')}` };
  const n = (k: (typeof counts)[number]) => value[k] as number;
  const s = (k: (typeof texts)[number]) => value[k] as string;
  return {
    stats: {
      ts: s('ts'),
      startedAt: s('started_at'),
      policyHash: s('policy_hash'),
      openConnections: n('open_connections'),
      connectionsTotal: n('connections_total'),
      requestsTotal: n('requests_total'),
      deniedTotal: n('denied_total'),
      bytesUp: n('bytes_up'),
      bytesDown: n('bytes_down'),
      lastActivity: value.last_activity as string | null,
    },
    note: null,
  };
}

/** The content of the first regular file in a tar stream; null when there is none. */
async function firstFile(archive: NodeJS.ReadableStream): Promise<string | null> {
  const ex = extract();
  archive.on('error', (err: Error) => ex.destroy(err));
  archive.pipe(ex);
  let found: string | null = null;
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (found === null && entry.header.type === 'file') found = Buffer.concat(chunks).toString('utf8');
  }
  return found;
}
