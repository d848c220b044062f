// The egress proxy's live figures (contract: /var/lib/sandboxshift-egress/stats.json, written
// atomically by the proxy), read with one archive call per proxy. A small reader of our own until
// the engine side's `readProxyStats` lands; the two are to be folded together.
import { extract } from 'tar-stream';
import type { Docker } from './client.js';
import { unlessMissing } from './records.js';

export const PROXY_STATS_PATH = '/var/lib/sandboxshift-egress/stats.json';

export interface ProxyStats {
  open_connections: number;
  requests_total: number;
  last_activity: string | null;
  ts: string;
}

/** The proxy's stats file, or null when the proxy or the file is not there (yet). */
export async function readProxyStatsFile(engine: Docker, proxy: string): Promise<ProxyStats | null> {
  const tar = await unlessMissing(engine.getContainer(proxy).getArchive({ path: PROXY_STATS_PATH }));
  if (!tar) return null;
  const text = await firstFile(tar);
  try {
    const stats = JSON.parse(text) as Partial<ProxyStats>;
    if (typeof stats.open_connections !== 'number') return null;
    return { open_connections: stats.open_connections, requests_total: stats.requests_total ?? 0, last_activity: stats.last_activity ?? null, ts: stats.ts ?? '' };
  } catch {
    // Written atomically, so unreadable means another writer: treated as no figures, never as activity.
    return null;
  }
}

function firstFile(tar: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const ex = extract();
    let text = '';
    ex.on('entry', (_header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (!text) text = Buffer.concat(chunks).toString('utf8');
        next();
      });
      stream.resume();
    });
    ex.on('finish', () => resolve(text));
    ex.on('error', reject);
    tar.on('error', reject);
    tar.pipe(ex);
  });
}
