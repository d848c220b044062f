// The pure parts of `sandboxshift egress ENV`: rule origins, the policy hash, decision parsing,
// the mechanism line, apply-pending, the log demux and the text view.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildEgressReport, mechanismOf, parseDecisions, policyHash } from '../../../src/app/egress.js';
import { egressRuleOrigins, validateConfigText } from '../../../src/config/index.js';
import type { EgressFacts } from '../../../src/engine/egress-facts.js';
import { renderEgressText } from '../../../src/render/egress-text.js';
import { parseProxyStats } from '../../../src/engine/proxy-stats.js';

const YAML = `
version: 1
project: demo
images:
  busybox: { ref: busybox:1 }
defaults:
  image: busybox
  egress: { allow: [pypi.org, "*.github.com"] }
environments:
  inherit: {}
  own: { egress: { allow: [api.example.com, pypi.org] } }
  closed: { egress: none }
`;

function config() {
  const { config, diagnostics } = validateConfigText(YAML, '/tmp/demo/sandboxshift.yaml');
  if (!config) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  return config;
}

const proxyFacts = (allow: string[] | null, running = true): EgressFacts => ({
  environment: { name: 'ss.demo.inherit', state: 'running', networkMode: 'ss.demo.inherit.net', httpProxy: 'http://10.213.0.2:3128', internalNetwork: true, gatewayIsolated: true },
  proxy: { name: 'ss.demo.inherit.egress', state: running ? 'running' : 'exited', running, address: '10.213.0.2', port: 3128, allow },
  proxyLog: null,
});

describe('egressRuleOrigins', () => {
  it('says a list inherited from defaults comes from defaults, with the key path of each entry', () => {
    expect(egressRuleOrigins(config(), 'inherit')).toEqual([
      { rule: 'pypi.org', origin: 'defaults', path: 'defaults.egress.allow[0]' },
      { rule: '*.github.com', origin: 'defaults', path: 'defaults.egress.allow[1]' },
    ]);
  });
  it("says an environment's own list comes from the environment, even for an entry defaults also has", () => {
    expect(egressRuleOrigins(config(), 'own')).toEqual([
      { rule: 'api.example.com', origin: 'environment', path: 'environments.own.egress.allow[0]' },
      { rule: 'pypi.org', origin: 'environment', path: 'environments.own.egress.allow[1]' },
    ]);
  });
  it('is empty for egress: none and for an unknown environment', () => {
    expect(egressRuleOrigins(config(), 'closed')).toEqual([]);
    expect(egressRuleOrigins(config(), 'nope')).toEqual([]);
  });
});

describe('policyHash', () => {
  it('is sha256 of the policy file the proxy reads, canonical JSON', () => {
    const expected = createHash('sha256').update('{"allow":["pypi.org","*.github.com"]}').digest('hex');
    expect(policyHash(['pypi.org', '*.github.com'])).toBe(`sha256:${expected}`);
    expect(policyHash(['*.github.com', 'pypi.org'])).not.toBe(policyHash(['pypi.org', '*.github.com']));
  });
});

describe('parseDecisions', () => {
  const log = [
    '{"ts":"2026-01-01T00:00:00.000Z","event":"listening","host":"10.213.0.2","port":3128}',
    '{"ts":"2026-01-01T00:00:01.000Z","client":"10.213.0.3:1","method":"GET","host":"pypi.org","port":80,"decision":"allow","rule":"pypi.org","reason":"allowed"}',
    'not json',
    '{"ts":"2026-01-01T00:00:02.000Z","client":"10.213.0.3:2","method":"CONNECT","host":"evil.test","port":443,"decision":"deny","reason":"no rule matches evil.test"}',
    '{"ts":"2026-01-01T00:00:03.000Z","cli',
  ].join('\n');
  it('keeps decision lines only, last N, newest last', () => {
    expect(parseDecisions(log, 20).map((d) => [d.decision, d.host, d.rule])).toEqual([
      ['allow', 'pypi.org', 'pypi.org'],
      ['deny', 'evil.test', null],
    ]);
    expect(parseDecisions(log, 1)).toEqual([
      { ts: '2026-01-01T00:00:02.000Z', client: '10.213.0.3:2', method: 'CONNECT', host: 'evil.test', port: 443, decision: 'deny', rule: null, reason: 'no rule matches evil.test' },
    ]);
    expect(parseDecisions(log, 0)).toEqual([]);
  });
});

describe('mechanismOf', () => {
  it('names the internal network and the proxy address the engine has', () => {
    expect(mechanismOf(proxyFacts(['pypi.org'])).description).toBe(
      'internal network ss.demo.inherit.net (gateway isolated: no host address on it) + filtering proxy at 10.213.0.2:3128 (HTTP(S)_PROXY)',
    );
  });
  it('says none for NetworkMode none, and not applied without a container', () => {
    const none: EgressFacts = { environment: { name: 'c', state: 'running', networkMode: 'none', httpProxy: null, internalNetwork: null, gatewayIsolated: null }, proxy: null, proxyLog: null };
    expect(mechanismOf(none)).toEqual({ kind: 'none', description: 'none: no network at all', network: null, proxy: null });
    expect(mechanismOf({ environment: null, proxy: null, proxyLog: null }).kind).toBe('not-applied');
  });
  it('says when the network has a route out, and when the proxy is not running', () => {
    const facts = proxyFacts(['pypi.org'], false);
    facts.environment = { ...facts.environment!, internalNetwork: false, gatewayIsolated: false };
    expect(mechanismOf(facts).description).toBe(
      'network (NOT internal: it has a route out) ss.demo.inherit.net (the host is REACHABLE at its gateway address: apply makes it again) + filtering proxy at 10.213.0.2:3128 (HTTP(S)_PROXY), proxy exited',
    );
  });
});

const STATS = JSON.stringify({
  format_version: '1',
  ts: '2026-01-01T12:03:08.000Z',
  started_at: '2026-01-01T11:00:00.000Z',
  policy_hash: 'sha256:' + 'a'.repeat(64),
  open_connections: 2,
  connections_total: 40,
  requests_total: 41,
  denied_total: 3,
  bytes_up: 1258291,
  bytes_down: 30 * 1024 * 1024,
  last_activity: '2026-01-01T12:03:07.512Z',
});

describe('parseProxyStats', () => {
  it('reads every field of the stats file', () => {
    expect(parseProxyStats(STATS)).toEqual({
      stats: {
        ts: '2026-01-01T12:03:08.000Z',
        startedAt: '2026-01-01T11:00:00.000Z',
        policyHash: 'sha256:' + 'a'.repeat(64),
        openConnections: 2,
        connectionsTotal: 40,
        requestsTotal: 41,
        deniedTotal: 3,
        bytesUp: 1258291,
        bytesDown: 31457280,
        lastActivity: '2026-01-01T12:03:07.512Z',
      },
      note: null,
    });
  });
  it('says why it cannot use a file: not JSON, another format version, a field missing or of the wrong type', () => {
    expect(parseProxyStats('{"format_version":')).toEqual({ stats: null, note: 'no live figures: /var/lib/sandboxshift-egress/stats.json is not JSON' });
    expect(parseProxyStats('{"format_version":"2"}').note).toBe('no live figures: /var/lib/sandboxshift-egress/stats.json has format_version "2", this version reads "1"');
    const partial = { ...JSON.parse(STATS), bytes_up: 1, open_connections: -1, last_activity: 5 };
    delete partial.ts;
    expect(parseProxyStats(JSON.stringify(partial)).note).toBe('no live figures: /var/lib/sandboxshift-egress/stats.json lacks or garbles open_connections, ts, last_activity');
  });
});

describe('buildEgressReport', () => {
  const rules = () => egressRuleOrigins(config(), 'inherit');
  it('is in sync when the proxy enforces the config’s list', () => {
    const r = buildEgressReport({ project: 'demo', environment: 'inherit', mode: 'allow', rules: rules(), facts: proxyFacts(['pypi.org', '*.github.com']), tail: 20 });
    expect(r.policy).toEqual({
      hash: policyHash(['pypi.org', '*.github.com']),
      enforced_hash: policyHash(['pypi.org', '*.github.com']),
      enforced_allow: ['pypi.org', '*.github.com'],
      enforced_from: 'label',
      apply_pending: false,
    });
    expect(r.notes).toEqual([]);
    expect(r.live).toBeNull();
  });
  it('reads what the proxy enforces from its policy record after a reload in place, and says when a reload was left unfinished', () => {
    const reloaded = proxyFacts(['pypi.org']);
    reloaded.proxy!.recorded = { allow: ['pypi.org', '*.github.com'] };
    const r = buildEgressReport({ project: 'demo', environment: 'inherit', mode: 'allow', rules: rules(), facts: reloaded, tail: 20 });
    expect(r.policy).toMatchObject({ enforced_allow: ['pypi.org', '*.github.com'], enforced_from: 'record', apply_pending: false });
    const unfinished = proxyFacts(['pypi.org', '*.github.com']);
    unfinished.proxy!.recorded = { unknown: 'a reload of its allow list began and did not finish (an earlier apply was interrupted)' };
    const u = buildEgressReport({ project: 'demo', environment: 'inherit', mode: 'allow', rules: rules(), facts: unfinished, tail: 20 });
    expect(u.policy).toMatchObject({ enforced_hash: null, enforced_allow: null, enforced_from: 'unknown', apply_pending: true });
    expect(u.notes).toEqual(['the allow list the proxy enforces is unknown: a reload of its allow list began and did not finish (an earlier apply was interrupted): run sandboxshift apply']);
  });
  it('believes the proxy over its label or record when its own stats report another policy (a hand edit): apply pending, with what to run', () => {
    const wider = policyHash(['pypi.org', '*.github.com', 'evil.example.com']);
    const edited = proxyFacts(['pypi.org', '*.github.com']);
    edited.proxy!.reportedHash = wider;
    const r = buildEgressReport({ project: 'demo', environment: 'inherit', mode: 'allow', rules: rules(), facts: edited, tail: 20 });
    expect(r.policy).toEqual({ hash: policyHash(['pypi.org', '*.github.com']), enforced_hash: wider, enforced_allow: null, enforced_from: 'unknown', apply_pending: true });
    expect(r.notes).toEqual([
      `the proxy reports policy ${wider}, not the ${policyHash(['pypi.org', '*.github.com'])} its label says: its policy file was changed outside sandboxshift; sandboxshift apply --refresh=full reloads the configured list`,
    ]);
    expect(renderEgressText(r, 0)).not.toContain('(the proxy enforces it)');
  });
  it('shows the live figures, or null with a note why', () => {
    const facts = proxyFacts(['pypi.org', '*.github.com']);
    const stats = parseProxyStats(STATS);
    facts.proxy!.live = stats;
    const r = buildEgressReport({ project: 'demo', environment: 'inherit', mode: 'allow', rules: rules(), facts, tail: 0 });
    expect(r.live).toEqual({ ...JSON.parse(STATS), format_version: undefined });
    expect(renderEgressText(r, 0)).toContain('Live:       2 open connections, 1.2 MiB up, 30.0 MiB down, last activity 12:03:07 UTC\n');
    facts.proxy!.live = { stats: null, note: 'no live figures: the proxy has no /var/lib/sandboxshift-egress/stats.json (an image that does not write them, or it just started)' };
    const none = buildEgressReport({ project: 'demo', environment: 'inherit', mode: 'allow', rules: rules(), facts, tail: 0 });
    expect(none.live).toBeNull();
    expect(none.notes).toEqual(['no live figures: the proxy has no /var/lib/sandboxshift-egress/stats.json (an image that does not write them, or it just started)']);
    expect(renderEgressText(none, 0)).not.toContain('Live:');
  });
  it('says apply pending when the proxy enforces another list, or there is no proxy', () => {
    const other = buildEgressReport({ project: 'demo', environment: 'inherit', mode: 'allow', rules: rules(), facts: proxyFacts(['pypi.org']), tail: 20 });
    expect(other.policy.apply_pending).toBe(true);
    expect(other.notes).toEqual(['the proxy enforces another allow list than the config: apply pending (sandboxshift plan shows it)']);
    const missing = buildEgressReport({ project: 'demo', environment: 'inherit', mode: 'allow', rules: rules(), facts: { ...proxyFacts(null), proxy: null }, tail: 20 });
    expect(missing.policy.apply_pending).toBe(true);
    expect(missing.notes).toEqual(['no egress proxy on the engine: run sandboxshift apply']);
  });
  it('renders rules with origins, the hash and the decisions as text', () => {
    const facts = proxyFacts(['pypi.org', '*.github.com']);
    facts.proxyLog = '{"ts":"T1","client":"c","method":"GET","host":"pypi.org","port":80,"decision":"deny","rule":"pypi.org","reason":"could not resolve pypi.org"}\n';
    const r = buildEgressReport({ project: 'demo', environment: 'inherit', mode: 'allow', rules: rules(), facts, tail: 20 });
    expect(renderEgressText(r, 20)).toBe(
      [
        'Egress of environment inherit (project demo)',
        '',
        'Allow list (2 rules):',
        '  pypi.org      from defaults  defaults.egress.allow[0]',
        '  *.github.com  from defaults  defaults.egress.allow[1]',
        'Mechanism:  internal network ss.demo.inherit.net (gateway isolated: no host address on it) + filtering proxy at 10.213.0.2:3128 (HTTP(S)_PROXY)',
        `Policy:     ${policyHash(['pypi.org', '*.github.com'])} (the proxy enforces it)`,
        '',
        'Last decisions (1, newest last):',
        '  T1  deny   GET      pypi.org:80  rule pypi.org: could not resolve pypi.org',
        '',
      ].join('\n'),
    );
  });
});
