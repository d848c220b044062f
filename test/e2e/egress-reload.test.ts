// An allow-list change reloads the running proxy in place: a transfer the new list still allows
// keeps going across the apply, the proxy is the same container, and what it enforces is
// recorded on the engine (egress-policy records), so an apply killed mid-reload is redone by the
// next one. Closing connections the new list forbids is the proxy's side (images/egress-proxy, its Go tests): not here.
import { randomInt } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createFakeInternet } from '../support/fake-internet.mjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policyHash } from '../../src/model/egress.js';
import { CLI, TEST_IMAGE, busyboxConfig, containerOf, docker, dockerCli, sh, testProject, type TestProject } from './harness.js';

const CHUNKS = 20;
// Served by busybox httpd as CGI: one line every half second, ~10 s in all, then END.
const SLOW_CGI = `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
i=1
while [ $i -le ${CHUNKS} ]; do echo "chunk-$i-0123456789abcdef"; usleep 500000; i=$((i+1)); done
echo END
`;

/** A GET through the environment's proxy with the request side kept open, as curl does. */
function viaProxy(host: string, path: string, hold: number): string {
  return `a=\${HTTP_PROXY#http://}; (printf 'GET http://${host}${path} HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n'; sleep ${hold}) | nc -w 20 \${a%:*} \${a##*:}`;
}

describe('egress allow-list changes reload the proxy in place (runc)', () => {
  const tag = `reload-${randomInt(1e6)}`;
  const internet = `ss-e2e-inet-${tag}`;
  const server = `ss-e2e-slow-${tag}`;
  let p: TestProject;
  let proxy = '';
  const squatters: string[] = [];

  const config = (allow: string[]) => busyboxConfig(`  agent: { egress: { allow: [${allow.join(', ')}] } }\n`, '{ memory: 64m, pids: 64 }');
  const agent = () => containerOf(p.name, 'agent');
  const proxyId = async () => (await docker.getContainer(proxy).inspect()).Id;
  const policyRecords = async () =>
    (await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=egress-policy'] } })).map((c) => ({
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      state: c.Labels['io.sandboxshift.egress.policy-state'],
      allow: c.Labels['io.sandboxshift.egress.allow'],
      proxyId: c.Labels['io.sandboxshift.egress.proxy-id'],
    }));
  const status = async (host: string) => (await sh(agent(), viaProxy(host, '/', 2))).out.split('\r\n')[0];
  const unlock = async () => {
    const locks = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=lock'] } });
    for (const l of locks) await p.run(['unlock', l.Labels['io.sandboxshift.lock.id'] ?? '']);
  };

  /** Runs apply with the reload paused at `point`, SIGKILLs it there, and releases its lock. */
  const killApplyAt = async (point: string, allow: string[]) => {
    p.write(config(allow));
    const child = spawn(process.execPath, [CLI, 'apply', '--auto-approve'], { cwd: p.dir, env: { ...process.env, NO_COLOR: '1', CI: 'true', SANDBOXSHIFT_TEST_PAUSE: point }, stdio: 'ignore' });
    const exited = new Promise((r) => child.on('close', r));
    const list = JSON.stringify(allow);
    const wanted = point === 'egress-reload-pending' ? 'pending' : 'enforced';
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(await policyRecords()).some((r) => r.state === wanted && r.allow === list)) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await exited;
    await unlock();
  };

  beforeAll(async () => {
    await createFakeInternet(docker, internet, { 'io.sandboxshift.test': '1' });
    const c = await docker.createContainer({
      name: server,
      Image: TEST_IMAGE,
      User: '0',
      Env: [`SLOW=${SLOW_CGI}`],
      Cmd: [
        'sh',
        '-c',
        'mkdir -p /tmp/www/cgi-bin && printf "%s" "$SLOW" > /tmp/www/cgi-bin/slow && chmod 755 /tmp/www/cgi-bin/slow && echo hello > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www',
      ],
      HostConfig: { NetworkMode: internet },
      NetworkingConfig: { EndpointsConfig: { [internet]: { Aliases: ['slow.test', 'other.test'] } } },
    });
    await c.start();
    p = testProject('egress-reload', config(['slow.test', 'other.test']));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    proxy = `ss.${p.name}.agent.egress`;
    // The proxy's way to the fake internet; a reload keeps the container, so this holds throughout.
    await docker.getNetwork(internet).connect({ Container: proxy });
  });

  afterAll(async () => {
    for (const s of squatters) await docker.getContainer(s).remove({ force: true });
    await p?.cleanup();
    await docker.getContainer(server).remove({ force: true });
    await docker.getNetwork(internet).remove();
    for (const n of await docker.listNetworks({ filters: { label: [`io.sandboxshift.project=${p?.name}`] } })) await docker.getNetwork(n.Id).remove();
  });

  it('keeps a long allowed transfer going, intact, across an apply that narrows the list', async () => {
    expect(await status('other.test')).toMatch(/^HTTP\/1\.[01] 200/);
    const before = await proxyId();
    const transfer = sh(agent(), `${viaProxy('slow.test', '/cgi-bin/slow', 14)} > /workspace/transfer.out`);
    const started = Date.now();
    while (!(await sh(agent(), 'cat /workspace/transfer.out 2>/dev/null')).out.includes('chunk-1-') && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 100));

    p.write(config(['slow.test']));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('egress narrowed: -other.test (policy reloaded in place)');
    // The reload finished while the transfer was still running.
    expect((await sh(agent(), 'cat /workspace/transfer.out')).out).not.toContain('END');
    expect(await proxyId()).toBe(before);

    const done = await transfer;
    expect(done.rc).toBe(0);
    const body = (await sh(agent(), 'cat /workspace/transfer.out')).out;
    expect(body).toMatch(/^HTTP\/1\.[01] 200/);
    const lines = body.split('\r\n\r\n')[1]!.trimEnd().split('\n');
    expect(lines).toEqual([...Array.from({ length: CHUNKS }, (_, i) => `chunk-${i + 1}-0123456789abcdef`), 'END']);

    // The engine records what the proxy now enforces, for this proxy.
    expect(await policyRecords()).toEqual([{ name: expect.stringMatching(/\.agent\.egress-enforced-[0-9a-f]{12}$/), state: 'enforced', allow: '["slow.test"]', proxyId: before }]);
    const again = await p.run(['plan', '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
    // `egress` reads the enforced list from the record, not from the proxy's label (still the old list).
    const report = JSON.parse((await p.run(['egress', 'agent', '--json'])).stdout);
    expect(report.policy).toEqual({
      hash: policyHash(['slow.test']),
      enforced_hash: policyHash(['slow.test']),
      enforced_allow: ['slow.test'],
      enforced_from: 'record',
      apply_pending: false,
    });
    // Live figures from the proxy's stats file: the reloaded policy, and the transfer's bytes.
    expect(report.live).toMatchObject({ policy_hash: policyHash(['slow.test']), open_connections: expect.any(Number) });
    expect(report.live.bytes_down).toBeGreaterThan(CHUNKS * 26);
    expect((await p.run(['egress', 'agent'])).stdout).toMatch(/\nLive: {7}\d+ open connections?, \d+\.\d KiB up, \d+\.\d KiB down, last activity \d\d:\d\d:\d\d UTC\n/);
    // New connections follow the new list.
    const denied = await status('other.test');
    expect(denied).toMatch(/^HTTP\/1\.[01] 403/);
  });

  it('redoes a reload killed after its pending record: the next plan is not empty, the next apply converges', async () => {
    const before = await proxyId();
    await killApplyAt('egress-reload-pending', ['slow.test', 'other.test']);
    expect((await policyRecords()).map((r) => r.state).sort()).toEqual(['enforced', 'pending']);
    const planned = await p.run(['plan', '--detailed-exitcode']);
    expect(planned.code, planned.stdout + planned.stderr).toBe(2);
    expect(planned.stdout).toContain(
      `the allow list egress proxy ${proxy} enforces is unknown: a reload of its allow list began and did not finish (an earlier apply was interrupted) (policy reloaded in place)`,
    );
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
    expect(await proxyId()).toBe(before);
    expect(await policyRecords()).toEqual([expect.objectContaining({ state: 'enforced', allow: '["slow.test","other.test"]', proxyId: before })]);
    expect(await status('other.test')).toMatch(/^HTTP\/1\.[01] 200/);
  });

  it('redoes a reload killed after the proxy took it but before the records were tidied', async () => {
    await killApplyAt('egress-reload-recorded', ['slow.test']);
    // The proxy already enforces the new list, but the records cannot say so yet: plan again.
    expect(await status('other.test')).toMatch(/^HTTP\/1\.[01] 403/);
    const planned = await p.run(['plan', '--detailed-exitcode']);
    expect(planned.code, planned.stdout + planned.stderr).toBe(2);
    expect(planned.stdout).toContain('enforces is unknown: a reload of its allow list began and did not finish');
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
    expect(await policyRecords()).toEqual([expect.objectContaining({ state: 'enforced', allow: '["slow.test"]' })]);
  });

  it('never uses or removes a container with a record name that lacks our labels', async () => {
    const allow = ['slow.test', 'other.test'];
    const name = `ss.${p.name}.agent.egress-pending-${policyHash(allow).slice('sha256:'.length, 'sha256:'.length + 12)}`;
    const squatter = (await dockerCli(['create', '--name', name, TEST_IMAGE, 'true'])).trim();
    squatters.push(name);
    p.write(config(allow));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain(`a container named ${name} exists that sandboxshift did not create as an egress policy record`);
    // The same container, untouched (its only label is the image's own).
    const info = await docker.getContainer(name).inspect();
    expect(info.Id).toBe(squatter);
    expect(info.Config.Labels).toEqual({ 'io.sandboxshift.contract': '1' });
    // Not taken for a record: the plan still compares against the enforced one, and still wants the change.
    const planned = await p.run(['plan', '--detailed-exitcode']);
    expect(planned.code).toBe(2);
    expect(planned.stdout).toContain('egress WIDENED: +other.test (policy reloaded in place)');
    expect(await status('other.test')).toMatch(/^HTTP\/1\.[01] 403/);
  });

  it('destroy removes the proxy and its policy records, and still not the squatter', async () => {
    expect(await policyRecords()).toHaveLength(1);
    const r = await p.run(['destroy', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await policyRecords()).toEqual([]);
    expect((await docker.listContainers({ all: true, filters: { name: [`^/${proxy}$`] } })).length).toBe(0);
    expect((await docker.getContainer(squatters[0]!).inspect()).Config.Labels).toEqual({ 'io.sandboxshift.contract': '1' });
  });
});
