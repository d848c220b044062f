// `sandboxshift egress ENV` as a library call: what an environment may reach (its allow list and
// where each rule was written), how the engine enforces it, whether the proxy enforces what the
// config says, and the proxy's last decisions.
import { egressRuleOrigins, type EgressRuleOrigin } from '../config/index.js';
import { didYouMean } from '../config/suggest.js';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { readEgressFacts, type EgressFacts } from '../engine/egress-facts.js';
import type { Engine } from '../engine/client.js';
import type { ProxyStats } from '../engine/proxy-stats.js';
import { mechanismText, policyHash } from '../model/egress.js';
import { load } from './pipeline.js';

export const EGRESS_FORMAT_VERSION = '1.0';

export interface EgressDecisionEntry {
  ts: string | null;
  client: string | null;
  method: string | null;
  host: string | null;
  port: number | null;
  decision: 'allow' | 'deny';
  rule: string | null;
  reason: string | null;
}

export interface EgressLive {
  /** When the proxy wrote the figures, and when it started (ISO). */
  ts: string;
  started_at: string;
  policy_hash: string;
  open_connections: number;
  connections_total: number;
  requests_total: number;
  denied_total: number;
  /** Sandbox → internet, and back, in bytes. */
  bytes_up: number;
  bytes_down: number;
  last_activity: string | null;
}

export type MechanismKind = 'proxy' | 'none' | 'host' | 'other' | 'not-applied';

export interface EgressReport {
  format_version: typeof EGRESS_FORMAT_VERSION;
  project: string;
  environment: string;
  /** What the config asks for: an allow list, no network, or the host's network. */
  mode: 'allow' | 'none' | 'host';
  rules: EgressRuleOrigin[];
  mechanism: {
    kind: MechanismKind;
    description: string;
    network: string | null;
    proxy: { name: string; state: string; address: string | null; port: number } | null;
  };
  policy: {
    /** sha256 of the allow list the config asks for; null without one. */
    hash: string | null;
    /** sha256 of the allow list the proxy on the engine enforces; null without a readable one. */
    enforced_hash: string | null;
    enforced_allow: string[] | null;
    /** Where that list was read: the proxy's label (as created), its policy record (after a reload in place), or unknown (a reload left unfinished). */
    enforced_from: 'label' | 'record' | 'unknown' | null;
    /** True when what the engine enforces is not what the config says: run apply. */
    apply_pending: boolean;
  };
  /** The proxy's live figures from its stats file; null when there is no proxy or they cannot be read (a note says why). */
  live: EgressLive | null;
  decisions: EgressDecisionEntry[];
  /** Why a part is empty (no proxy, proxy stopped, no allow list...). */
  notes: string[];
}

// The policy's identity, shared with the engine side (it waits for the proxy to log it).
export { policyHash };

/** The decision lines among a proxy's log lines (event lines and anything else are skipped), last `tail`. */
export function parseDecisions(log: string, tail: number): EgressDecisionEntry[] {
  const out: EgressDecisionEntry[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // a line cut short by the tail: not a decision
    }
    if (value.decision !== 'allow' && value.decision !== 'deny') continue;
    const text = (k: string) => (typeof value[k] === 'string' ? value[k] : null);
    out.push({
      ts: text('ts'),
      client: text('client'),
      method: text('method'),
      host: text('host'),
      port: typeof value.port === 'number' ? value.port : null,
      decision: value.decision,
      rule: text('rule'),
      reason: text('reason'),
    });
  }
  return tail === 0 ? [] : out.slice(-tail);
}

export interface EgressRequest {
  configPath: string;
  environment: string;
  /** How many of the last decisions to show. */
  tail: number;
}

export async function describeEgress(engine: Engine, request: EgressRequest): Promise<EgressReport> {
  const { config, desired } = load(request.configPath, { needSecrets: false, readBuildContexts: false });
  const env = request.environment;
  const environment = config.environments[env];
  if (!environment) {
    const names = Object.keys(config.environments);
    throw new DiagnosticsError([errorDiag(`environment '${env}' is not in ${config.file}${didYouMean(env, names)}`, { hint: `environments in the config: ${names.join(', ') || '(none)'}` })]);
  }
  // Event lines (listening, policy loaded) share the log: read more lines than decisions shown.
  const facts = await readEgressFacts(engine, desired.project, env, request.tail === 0 ? 0 : request.tail * 2 + 20);
  const mode = environment.hostNetwork ? 'host' : environment.egress.mode;
  return buildEgressReport({ project: desired.project, environment: env, mode, rules: egressRuleOrigins(config, env), facts, tail: request.tail });
}

/** The report from what the config says and what the engine has; pure. */
export function buildEgressReport(input: { project: string; environment: string; mode: EgressReport['mode']; rules: EgressRuleOrigin[]; facts: EgressFacts; tail: number }): EgressReport {
  const { facts, mode, rules } = input;
  const notes: string[] = [];
  const hash = mode === 'allow' ? policyHash(rules.map((r) => r.rule)) : null;
  const recorded = facts.proxy?.recorded ?? null;
  const unknown = recorded && 'unknown' in recorded ? recorded.unknown : null;
  // A proxy whose own stats report another policy than its label or records was edited by hand.
  const reported = facts.proxy?.reportedHash ?? null;
  const claimedAllow = recorded ? ('allow' in recorded ? [...recorded.allow] : null) : (facts.proxy?.allow ?? null);
  const enforcedAllow = reported ? null : claimedAllow;
  const enforcedFrom = facts.proxy ? (unknown || reported ? 'unknown' : recorded ? 'record' : 'label') : null;
  const enforcedHash = reported ?? (enforcedAllow ? policyHash(enforcedAllow) : null);
  if (reported && claimedAllow) {
    notes.push(
      `the proxy reports policy ${reported}, not the ${policyHash(claimedAllow)} its ${recorded ? 'record' : 'label'} says: its policy file was changed outside sandboxshift; sandboxshift apply --refresh=full reloads the configured list`,
    );
  }
  if (mode !== 'allow') notes.push(`no allow list: egress is ${mode === 'host' ? "the host's network (hostNetwork: true), unfiltered" : 'none (no network at all)'}`);
  if (unknown) notes.push(`the allow list the proxy enforces is unknown: ${unknown}: run sandboxshift apply`);
  if (facts.proxy && !recorded && facts.proxy.allow === null) notes.push(`proxy ${facts.proxy.name} has no readable io.sandboxshift.egress.allow label: it was not made by this version`);
  if (mode === 'allow' && !facts.proxy) notes.push('no egress proxy on the engine: run sandboxshift apply');
  if (facts.proxy && !facts.proxy.running) notes.push(`egress proxy ${facts.proxy.name} is ${facts.proxy.state}: nothing gets out until it runs (sandboxshift apply)`);
  const applyPending = mode === 'allow' ? enforcedHash !== hash : facts.proxy !== null;
  if (applyPending && facts.proxy && enforcedHash !== null && !reported) notes.push('the proxy enforces another allow list than the config: apply pending (sandboxshift plan shows it)');
  if (mode !== 'allow' && facts.proxy) notes.push(`a proxy ${facts.proxy.name} still runs for an environment without an allow list: apply pending`);
  const live = facts.proxy?.live ?? null;
  if (live && live.stats === null) notes.push(live.note);
  const decisions = facts.proxyLog === null ? [] : parseDecisions(facts.proxyLog, input.tail);
  return {
    format_version: EGRESS_FORMAT_VERSION,
    project: input.project,
    environment: input.environment,
    mode,
    rules,
    mechanism: mechanismOf(facts),
    policy: { hash, enforced_hash: enforcedHash, enforced_allow: enforcedAllow, enforced_from: enforcedFrom, apply_pending: applyPending },
    live: live?.stats ? liveOf(live.stats) : null,
    decisions,
    notes,
  };
}

/** What the engine has, said exactly: the container's network mode and the proxy it reaches. */
export function mechanismOf(facts: EgressFacts): EgressReport['mechanism'] {
  const env = facts.environment;
  const proxy = facts.proxy ? { name: facts.proxy.name, state: facts.proxy.state, address: facts.proxy.address, port: facts.proxy.port } : null;
  if (!env) return { kind: 'not-applied', description: 'not applied: the environment has no container (run sandboxshift apply)', network: null, proxy };
  if (env.networkMode === 'none') return { kind: 'none', description: 'none: no network at all', network: null, proxy };
  if (env.networkMode === 'host') return { kind: 'host', description: "host network: the host's own network, no filtering", network: 'host', proxy };
  const network = env.networkMode;
  const kindOfNetwork = env.internalNetwork === true ? 'internal network' : env.internalNetwork === false ? 'network (NOT internal: it has a route out)' : 'network';
  const gateway =
    env.gatewayIsolated === true
      ? ` (gateway isolated: no host address on it${env.gatewayIsolation === 'cni-no-gateway' ? `; ${mechanismText(env.gatewayIsolation)}` : ''})`
      : env.gatewayIsolated === false
        ? ' (the host is REACHABLE at its gateway address: apply makes it again)'
        : '';
  if (!proxy) return { kind: 'other', description: `${kindOfNetwork} ${network}${gateway}, no filtering proxy`, network, proxy };
  const via = env.httpProxy ? ' (HTTP(S)_PROXY)' : ' (HTTP(S)_PROXY not set in the environment)';
  const state = facts.proxy?.running ? '' : `, proxy ${proxy.state}`;
  return { kind: 'proxy', description: `${kindOfNetwork} ${network}${gateway} + filtering proxy at ${proxy.address ?? '?'}:${proxy.port}${via}${state}`, network, proxy };
}

function liveOf(s: ProxyStats): EgressLive {
  return {
    ts: s.ts,
    started_at: s.startedAt,
    policy_hash: s.policyHash,
    open_connections: s.openConnections,
    connections_total: s.connectionsTotal,
    requests_total: s.requestsTotal,
    denied_total: s.deniedTotal,
    bytes_up: s.bytesUp,
    bytes_down: s.bytesDown,
    last_activity: s.lastActivity,
  };
}
