// The proxy as a long-running service: policy from a file, reloaded on request and when the file
// changes. A file that cannot be read on reload leaves the proxy denying everything until it can
// be: keeping the old list would keep allowing what the new one may have removed. A reload keeps
// the open connections the new list still allows and closes the others. Live figures go to a
// stats file (stats-file.ts).

import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { eventLine } from './log-lines.js';
import { loadPolicyFile, policyHash } from './policy-file.js';
import { DENY_ALL } from './policy.js';
import { createEgressProxy, type EgressProxy } from './proxy.js';
import type { Resolver } from './resolver.js';
import { LiveStats, writeStatsFile } from './stats-file.js';

export interface EgressServiceOptions {
  policyPath: string;
  host: string;
  port: number;
  log: (line: string) => void;
  connectTimeoutMs?: number;
  /** How often the policy file is polled for changes. Default 1 s. */
  watchIntervalMs?: number;
  resolve?: Resolver;
  /** Where the live figures are written (stats-file.ts). None when absent. */
  statsPath?: string;
  /** Least time between two writes of the stats file. Default 1 s. */
  statsIntervalMs?: number;
}

export interface EgressService {
  readonly proxy: EgressProxy;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  readonly stats: LiveStats;
  /** Re-reads the policy file now; `trigger` is logged (e.g. `SIGHUP`). */
  reloadPolicy(trigger: string): void;
  stop(): Promise<void>;
}

export class PolicyStartError extends Error {}

/** Starts the proxy; throws PolicyStartError when the policy file cannot be used at all. */
export async function startEgressService(options: EgressServiceOptions): Promise<EgressService> {
  const { policyPath, log } = options;
  const initial = loadPolicyFile(policyPath);
  if (!initial.ok) throw new PolicyStartError(initial.error);
  log(eventLine('policy', { trigger: 'start', path: policyPath, hash: initial.hash, rules: initial.policy.rules.map((rule) => rule.entry), problems: initial.problems }));

  const stats = new LiveStats(initial.hash);
  const proxy = createEgressProxy({ policy: initial.policy, log, connectTimeoutMs: options.connectTimeoutMs ?? 10_000, resolve: options.resolve, events: stats });
  await new Promise<void>((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(options.port, options.host, () => {
      proxy.off('error', reject);
      resolve();
    });
  });
  const port = (proxy.address() as AddressInfo).port;
  log(eventLine('listening', { host: options.host, port }));
  const statsFile = options.statsPath === undefined ? undefined : writeStatsFile(stats, options.statsPath, log, options.statsIntervalMs);

  const reloadPolicy = (trigger: string) => {
    const loaded = loadPolicyFile(policyPath);
    if (loaded.ok) {
      const { kept, closed } = proxy.reload(loaded.policy);
      stats.policy(loaded.hash);
      log(eventLine('policy', { trigger, path: policyPath, hash: loaded.hash, kept, closed, rules: loaded.policy.rules.map((rule) => rule.entry), problems: loaded.problems }));
    } else {
      const { kept, closed } = proxy.reload(DENY_ALL);
      // The hash of what is enforced now: the empty list.
      const hash = policyHash([]);
      stats.policy(hash);
      log(eventLine('policy-error', { trigger, error: loaded.error, now: 'denying everything', hash, kept, closed }));
    }
  };
  const onChange = (current: Stats, previous: Stats) => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    reloadPolicy('file-change');
  };
  watchFile(policyPath, { interval: options.watchIntervalMs ?? 1000, persistent: false }, onChange);

  return {
    proxy,
    port,
    stats,
    reloadPolicy,
    async stop() {
      unwatchFile(policyPath, onChange);
      await proxy.shutdown();
      await statsFile?.stop();
      log(eventLine('stopped'));
    },
  };
}
