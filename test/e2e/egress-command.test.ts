// `sandboxshift egress ENV`: what an environment may reach, read from the config and the engine.
// Requests go out from inside a real sandbox through its HTTP_PROXY; nothing leaves the machine
// (a denied name is refused without resolving it, an allowed one fails to resolve: both are logged).
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, dockerCli, sh, testProject, type TestProject } from './harness.js';

const YAML = `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
defaults:
  image: busybox
  resources: { cpus: 0.25, memory: 32m, pids: 32 }
  egress: { allow: [allowed.test, "*.shared.test"] }
environments:
  inherit: {}
  own: { egress: { allow: [own.test] } }
  closed: { egress: none }
`;

function getViaProxy(host: string): string {
  return `a=\${HTTP_PROXY#http://}; (printf 'GET http://${host}/ HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n'; sleep 2) | nc -w 10 \${a%:*} \${a##*:} | head -1`;
}

const hashOf = (allow: string[]) => `sha256:${createHash('sha256').update(JSON.stringify({ allow })).digest('hex')}`;

const LIVE_LINE = /^Live: {7}\d+ open connections?, \d+\.\d [KM]iB up, \d+\.\d [KM]iB down, (last activity \d\d:\d\d:\d\d UTC|no activity yet)$/;

describe('egress ENV', () => {
  let p: TestProject;
  let proxyIp = '';
  const inheritNet = () => `${containerOf(p.name, 'inherit')}.net`;
  const proxy = () => `${containerOf(p.name, 'inherit')}.egress`;

  beforeAll(async () => {
    p = testProject('egresscmd', YAML);
    // The plan says how the allow list will be enforced on this engine (Debian's 20.10: no isolated gateway mode).
    const planned = await p.run(['plan']);
    expect(planned.stdout).toMatch(/enforced: {2}internal network \(no route out\), no host address on it \(bridge option inhibit_ipv4\), only way out the proxy at 10\.213\.\d+\.\d+:3128\n/);
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    proxyIp = (await dockerCli(['inspect', '-f', `{{(index .NetworkSettings.Networks "${inheritNet()}").IPAddress}}`, proxy()])).trim();
    expect(proxyIp).toMatch(/^10\.213\.\d+\.\d+$/);
    expect((await sh(containerOf(p.name, 'inherit'), getViaProxy('allowed.test'))).out).toContain('HTTP/1.1 502');
    expect((await sh(containerOf(p.name, 'inherit'), getViaProxy('blocked.test'))).out).toContain('HTTP/1.1 403');
  });
  afterAll(async () => p?.cleanup());

  it('text: rules with their origins, the mechanism the engine has, the hash, both decisions', async () => {
    const r = await p.run(['egress', 'inherit']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    // Live figures from the proxy's stats file.
    expect(lines.splice(7, 1)[0]).toMatch(LIVE_LINE);
    expect(lines.slice(0, 8)).toEqual([
      `Egress of environment inherit (project ${p.name})`,
      '',
      'Allow list (2 rules):',
      '  allowed.test   from defaults  defaults.egress.allow[0]',
      '  *.shared.test  from defaults  defaults.egress.allow[1]',
      `Mechanism:  internal network ${inheritNet()} (gateway isolated: no host address on it) + filtering proxy at ${proxyIp}:3128 (HTTP(S)_PROXY)`,
      `Policy:     ${hashOf(['allowed.test', '*.shared.test'])} (the proxy enforces it)`,
      '',
    ]);
    expect(lines[8]).toBe('Last decisions (2, newest last):');
    expect(lines[9]).toMatch(/^ {2}\S+Z {2}deny {3}GET {6}allowed\.test:80 {2}rule allowed\.test: could not resolve allowed\.test/);
    expect(lines[10]).toMatch(/^ {2}\S+Z {2}deny {3}GET {6}blocked\.test:80 {2}no rule matches blocked\.test$/);
  });

  it('--json: one versioned object with the same facts; --tail limits the decisions', async () => {
    const r = await p.run(['egress', 'inherit', '--json', '--tail', '1']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.format_version).toBe('1.0');
    expect(report.rules).toEqual([
      { rule: 'allowed.test', origin: 'defaults', path: 'defaults.egress.allow[0]' },
      { rule: '*.shared.test', origin: 'defaults', path: 'defaults.egress.allow[1]' },
    ]);
    expect(report.mechanism).toEqual({
      kind: 'proxy',
      description: `internal network ${inheritNet()} (gateway isolated: no host address on it) + filtering proxy at ${proxyIp}:3128 (HTTP(S)_PROXY)`,
      network: inheritNet(),
      proxy: { name: proxy(), state: 'running', address: proxyIp, port: 3128 },
    });
    expect(report.policy).toEqual({
      hash: hashOf(['allowed.test', '*.shared.test']),
      enforced_hash: hashOf(['allowed.test', '*.shared.test']),
      enforced_allow: ['allowed.test', '*.shared.test'],
      enforced_from: 'label',
      apply_pending: false,
    });
    // The same figures as data: the two requests so far were denied, none is open.
    expect(Object.keys(report.live).sort()).toEqual([
      'bytes_down',
      'bytes_up',
      'connections_total',
      'denied_total',
      'last_activity',
      'open_connections',
      'policy_hash',
      'requests_total',
      'started_at',
      'ts',
    ]);
    expect(report.live).toMatchObject({ policy_hash: hashOf(['allowed.test', '*.shared.test']), open_connections: 0, denied_total: 2 });
    expect(report.notes).toEqual([]);
    expect(report.decisions).toHaveLength(1);
    expect(report.decisions[0]).toMatchObject({ method: 'GET', host: 'blocked.test', port: 80, decision: 'deny', rule: null, reason: 'no rule matches blocked.test' });
    const all = JSON.parse((await p.run(['egress', 'inherit', '--json'])).stdout);
    expect(all.decisions.map((d: { host: string; decision: string; rule: string | null }) => [d.host, d.decision, d.rule])).toEqual([
      ['allowed.test', 'deny', 'allowed.test'],
      ['blocked.test', 'deny', null],
    ]);
  });

  it("an environment's own list is from the environment; egress: none says so", async () => {
    const own = JSON.parse((await p.run(['egress', 'own', '--json'])).stdout);
    expect(own.rules).toEqual([{ rule: 'own.test', origin: 'environment', path: 'environments.own.egress.allow[0]' }]);
    expect(own.policy.hash).toBe(hashOf(['own.test']));
    expect(own.decisions).toEqual([]);
    const closed = await p.run(['egress', 'closed']);
    expect(closed.code, closed.stderr).toBe(0);
    expect(closed.stdout).toContain('Allow list: none\nMechanism:  none: no network at all\nNote:       no allow list: egress is none (no network at all)\n');
    expect(closed.stdout).toContain('Last decisions: none (no egress proxy)');
  });

  it('an unknown environment is a diagnostic naming the closest one', async () => {
    const r = await p.run(['egress', 'inhert']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: environment 'inhert' is not in ${p.file} — did you mean 'inherit'?`);
    expect(r.stderr).toContain('hint: environments in the config: inherit, own, closed');
  });

  it('a changed allow list not yet applied shows both hashes and apply pending', async () => {
    p.write(YAML.replace('[allowed.test, "*.shared.test"]', '[allowed.test, extra.test, "*.shared.test"]'));
    const r = await p.run(['egress', 'inherit']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Policy:     ${hashOf(['allowed.test', 'extra.test', '*.shared.test'])}\n`);
    expect(r.stdout).toContain(`Enforced:   ${hashOf(['allowed.test', '*.shared.test'])} [allowed.test, *.shared.test] (apply pending)\n`);
    p.write(YAML);
  });

  it('a stopped proxy is said to let nothing out', async () => {
    await dockerCli(['stop', '-t', '1', proxy()]);
    const r = await p.run(['egress', 'inherit']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Mechanism:  internal network ${inheritNet()} (gateway isolated: no host address on it) + filtering proxy at`);
    expect(r.stdout).toContain(`Note:       egress proxy ${proxy()} is exited: nothing gets out until it runs (sandboxshift apply)\n`);
  });
});
