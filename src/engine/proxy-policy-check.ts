// What a running proxy really enforces, from its own stats file (`policy_hash`): a policy file
// changed inside the proxy by hand (docker cp, docker exec) is reloaded by the proxy at once,
// and neither its label nor its records say so. Read on a full refresh and by `egress ENV`.
import { policyHash } from '../model/egress.js';
import type { ObservedProxy, ObservedState, RecordedPolicy } from '../model/observed.js';
import { withEngine, type Docker, type Engine } from './client.js';
import { readProxyStats, type ProxyStatsRead } from './proxy-stats.js';

/** The proxy rewrites its stats at most once a second: a read this much later sees a reload that just happened. */
const STATS_SETTLE_MS = 1_200;

/** The list the proxy's label or records say it enforces; null when they cannot say. */
export function claimedAllow(proxy: { allow: readonly string[] | null; recorded?: RecordedPolicy | null }): readonly string[] | null {
  const recorded = proxy.recorded;
  if (recorded) return 'allow' in recorded ? recorded.allow : null;
  return proxy.allow;
}

/**
 * The hash the proxy reports when it differs from `claimed` (read twice, a little over a second
 * apart, so a reload the proxy has not yet written out is not taken for a hand edit); else null.
 */
export async function policyDrift(docker: Docker, proxyId: string, claimed: readonly string[], first?: ProxyStatsRead): Promise<string | null> {
  const expected = policyHash(claimed);
  const once = first ?? (await readProxyStats(docker, proxyId));
  if (!once.stats || once.stats.policyHash === expected) return null;
  await new Promise((r) => setTimeout(r, STATS_SETTLE_MS));
  const again = await readProxyStats(docker, proxyId);
  return again.stats && again.stats.policyHash !== expected ? again.stats.policyHash : null;
}

/** Why the enforced list is unknown after a hand edit: the plan reloads the config's list. */
export function driftNote(reported: string, claimed: readonly string[], from: 'label' | 'record'): string {
  return `it reports policy ${reported}, not the ${policyHash(claimed)} its ${from} says (its policy file was changed outside sandboxshift)`;
}

/** Full refresh: every running proxy whose stats disagree with its label or records gets an unknown enforced list. */
export async function checkProxyPolicies(engine: Engine, observed: ObservedState): Promise<ObservedState> {
  const running = [...observed.proxies.values()].filter((p) => p.state === 'running' && claimedAllow(p) !== null);
  if (running.length === 0) return observed;
  const docker = await engine.docker();
  const out = new Map<string, ObservedProxy>(observed.proxies);
  await withEngine(() =>
    Promise.all(
      running.map(async (p) => {
        const claimed = claimedAllow(p)!;
        const reported = await policyDrift(docker, p.id, claimed);
        if (reported) out.set(p.environment, { ...p, recorded: { unknown: driftNote(reported, claimed, p.recorded ? 'record' : 'label') } });
      }),
    ),
  );
  return { ...observed, proxies: out };
}
