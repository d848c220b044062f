// Egress on Podman with the CNI network backend (scripts/setup-podman.sh sets it): the allow list
// attacked from inside a real sandbox, as egress.test.ts does on Docker. Podman's CNI networks
// have no DNS here, so the fake internet is reached by address (an `IP/32` allow entry) and a
// denied name is refused before any lookup. Fails loudly when Podman does not answer or runs
// another network backend.
import './use-podman.js';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeInternet } from '../support/fake-internet.mjs';
import { PODMAN_SOCKET, TEST_IMAGE, busyboxConfig, containerOf, podman, sh, testProject, type TestProject } from './harness.js';

/** The podman CLI (same storage as the service), as a user would run it out of band. */
function podmanCli(args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('podman', args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`podman ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

function libpod<T>(path: string): Promise<T> {
  return new Promise((resolve, reject) => podman.modem.dial({ path: `/v4.0.0/libpod${path}`, method: 'GET', statusCodes: { 200: true } }, (err, data) => (err ? reject(err) : resolve(data as T))));
}

/** An HTTP GET through the environment's proxy (busybox nc; the request side stays open while the answer comes). */
function getViaProxy(host: string): string {
  return `a=\${HTTP_PROXY#http://}; (printf 'GET http://${host}/ HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n'; sleep 3) | nc -w 10 \${a%:*} \${a##*:}`;
}

/** A GET straight at ADDRESS:PORT, not through the proxy; prints the exit code. */
function getDirect(address: string, port: number): string {
  return `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${address} ${port}; echo "nc-exit=$?"`;
}

function listen(server: Server, options: { host: string; ipv6Only?: boolean }): Promise<number> {
  return new Promise((resolve) => server.listen({ port: 0, ...options }, () => resolve((server.address() as AddressInfo).port)));
}

describe('Podman (CNI): egress through the proxy, and nothing of the host', () => {
  const tag = Math.random().toString(36).slice(2, 8);
  const internet = `ss-e2e-pinet-${tag}`;
  const servers: string[] = [];
  const hits: string[] = [];
  const hostServer = () =>
    createServer((req, res) => {
      hits.push(req.socket.remoteAddress ?? '');
      res.end('host-service');
    });
  const hostService = hostServer();
  const hostService6 = hostServer();
  let p: TestProject;
  let port4 = 0;
  let port6 = 0;
  let allowedIp = '';
  let deniedIp = '';
  let proxyIp = '';
  let gateway = '';
  let bridge = '';
  let linkLocal = '';
  const agent = () => containerOf(p.name, 'agent');
  const network = () => `ss.${p.name}.agent.net`;

  beforeAll(async () => {
    let backend: string | undefined;
    try {
      backend = (await libpod<{ host?: { networkBackend?: string } }>('/info')).host?.networkBackend;
    } catch (err) {
      throw new Error(`Podman's service does not answer at ${PODMAN_SOCKET} (${(err as Error).message}): run \`npm run setup\` as root (scripts/setup-podman.sh)`, { cause: err });
    }
    if (backend !== 'cni') throw new Error(`Podman runs the ${backend ?? 'unknown'} network backend, not cni: run scripts/setup-podman.sh as root (it sets network_backend = "cni")`);
    // Host services listening on all addresses, as a database or an engine's TCP socket might.
    port4 = await listen(hostService, { host: '0.0.0.0' });
    port6 = await listen(hostService6, { host: '::', ipv6Only: true });
    await createFakeInternet(podman, internet, { 'io.sandboxshift.test': '1' });
    for (const name of ['allowed', 'denied']) {
      const server = `ss-e2e-p${name}-${tag}`;
      await podmanCli([
        'run',
        '-d',
        '--name',
        server,
        '--label',
        'io.sandboxshift.test=1',
        '--network',
        internet,
        '-u',
        '0',
        TEST_IMAGE,
        'sh',
        '-c',
        `mkdir -p /tmp/www && echo ${name}-site > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www`,
      ]);
      servers.push(server);
    }
    const ipOf = async (c: string) => (await podman.getContainer(c).inspect()).NetworkSettings.Networks[internet]!.IPAddress;
    allowedIp = await ipOf(servers[0]!);
    deniedIp = await ipOf(servers[1]!);
    p = testProject('podman-egress', busyboxConfig(`  agent:\n    command: ["sleep", "100000"]\n    egress: { allow: [${allowedIp}/32] }\n`));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('no host address on it (CNI bridge without gateway, IPv6 off in the containers)');
    const proxy = `ss.${p.name}.agent.egress`;
    proxyIp = (await podman.getContainer(proxy).inspect()).NetworkSettings.Networks[network()]!.IPAddress;
    // The test's fake internet is the proxy's way out (Podman's own outside network leads off the machine).
    await podman.getNetwork(internet).connect({ Container: proxy });
    const net = await libpod<{ network_interface: string; subnets: Array<{ subnet: string; gateway?: string }> }>(`/networks/${network()}/json`);
    bridge = net.network_interface;
    const [a, b, c, d] = net.subnets[0]!.subnet.split('/')[0]!.split('.');
    gateway = `${a}.${b}.${c}.${Number(d) + 1}`;
    linkLocal = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(await podmanCli(['run', '--rm', '--network', 'host', TEST_IMAGE, 'ip', '-6', 'addr', 'show', bridge]))?.[1] ?? '';
  }, 180_000);

  afterAll(async () => {
    hostService.close();
    hostService6.close();
    await p?.cleanup();
    for (const s of servers) await podmanCli(['rm', '-f', '-t', '0', s]);
    await podmanCli(['network', 'rm', internet]).catch((e: Error) => {
      if (!/not found|no such network/i.test(e.message)) throw e;
    });
  }, 120_000);

  it('makes an internal network with no gateway (the host bridge has no IPv4 address) and plans no changes after', async () => {
    const listed = await podman.getNetwork(network()).inspect();
    expect(listed.Internal).toBe(true);
    expect(listed.IPAM?.Config?.map((c) => c.Gateway)).toEqual(['<nil>']);
    const addresses = await podmanCli(['run', '--rm', '--network', 'host', TEST_IMAGE, 'ip', 'addr', 'show', bridge]);
    expect(addresses).not.toContain('inet ');
    // The IPv6 link-local address the host bridge still has: the path the sysctls close.
    expect(linkLocal).toMatch(/^fe80::/);
    for (const args of [
      ['plan', '--detailed-exitcode'],
      ['plan', '--detailed-exitcode', '--refresh=full'],
    ]) {
      const r = await p.run(args);
      expect(r.stdout).toContain('No changes. 1 environment matches the configuration.');
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    const egress = await p.run(['egress', 'agent']);
    expect(egress.code, egress.stderr).toBe(0);
    expect(egress.stdout).toContain(
      `Mechanism:  internal network ${network()} (gateway isolated: no host address on it; CNI bridge without gateway, IPv6 off in the containers) + filtering proxy at ${proxyIp}:3128 (HTTP(S)_PROXY)`,
    );
  });

  const promises = async (when: string) => {
    const allowed = await sh(agent(), getViaProxy(allowedIp));
    expect(allowed.out, when).toMatch(/^HTTP\/1\.[01] 200/);
    expect(allowed.out.trimEnd().endsWith('allowed-site'), when).toBe(true);
    const denied = await sh(agent(), getViaProxy(deniedIp));
    expect(denied.out, when).toMatch(/^HTTP\/1\.[01] 403/);
    expect(denied.out, when).toContain(`SandboxShift egress: ${deniedIp}:80 is not allowed by this environment's egress policy`);
    expect(denied.out, when).toContain(`add '${deniedIp}/32' to this environment's egress.allow`);
    const name = await sh(agent(), getViaProxy('denied.test'));
    expect(name.out, when).toMatch(/^HTTP\/1\.[01] 403/);
    expect(name.out, when).toContain("SandboxShift egress: denied.test:80 is not allowed by this environment's egress policy");
    // No route: the fake internet directly, not through the proxy.
    const direct = await sh(agent(), getDirect(allowedIp, 80));
    expect(direct.out, when).not.toContain('allowed-site');
    expect(direct.out, when).toContain('nc-exit=1');
    // The host: not at the network's .1 (no address there), not over the bridge's IPv6 link-local.
    const at1 = await sh(agent(), getDirect(gateway, port4));
    expect(at1.out, when).not.toContain('host-service');
    expect(at1.out, when).toContain('nc-exit=1');
    const v6 = await sh(agent(), getDirect(`${linkLocal}%eth0`, port6));
    expect(v6.out, when).not.toContain('host-service');
    expect(v6.out, when).toContain('nc-exit=1');
    // No IPv6 at all in the sandbox, none in the proxy.
    expect((await sh(agent(), 'cat /proc/sys/net/ipv6/conf/all/disable_ipv6; cat /proc/net/if_inet6 | wc -l')).out.split(/\s+/).filter(Boolean), when).toEqual(['1', '0']);
    expect((await podmanCli(['exec', `ss.${p.name}.agent.egress`, 'cat', '/proc/sys/net/ipv6/conf/all/disable_ipv6'])).trim(), when).toBe('1');
    // The proxy's other ports: nothing listens.
    for (const other of [22, 80, 3129]) {
      const r = await sh(agent(), getDirect(proxyIp, other));
      expect(r.out, `${when}: proxy port ${other}`).toContain('nc-exit=1');
      expect(r.out, `${when}: proxy port ${other}`).not.toContain('HTTP/1');
    }
    expect(hits, when).toEqual([]);
  };

  it('answers an allowed address through the proxy, refuses the rest with its reason, and reaches nothing of the host', async () => {
    await promises('as applied');
  });

  it('a container on that network without the sysctls does reach the host over IPv6 link-local (what the sandbox is kept from), and not at .1', async () => {
    const probe = `${getDirect(`${linkLocal}%eth0`, port6)}; ${getDirect(gateway, port4)}`;
    const out = await podmanCli(['run', '--rm', '--label', 'io.sandboxshift.test=1', '--network', network(), TEST_IMAGE, 'sh', '-c', probe]);
    expect(out).toMatch(/host-service\s*nc-exit=0/);
    expect(out).toMatch(/nc-exit=0[\s\S]*nc-exit=1/);
    expect(hits.length).toBe(1);
    expect(hits[0]).toMatch(/^fe80::/);
    hits.length = 0;
  });

  it('keeps every promise after `podman restart` of the sandbox, and after `podman stop` and `podman start`', async () => {
    await podmanCli(['restart', '-t', '1', agent()]);
    await promises('after podman restart');
    await podmanCli(['stop', '-t', '1', agent()]);
    await podmanCli(['start', agent()]);
    await promises('after podman stop and start');
    const r = await p.run(['plan', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('makes a sandbox made again by hand without the sysctls (our labels copied, IPv6 on) again with IPv6 off', async () => {
    const info = await podman.getContainer(agent()).inspect();
    const labels = Object.entries(info.Config.Labels ?? {})
      .filter(([k]) => k !== 'io.sandboxshift.ipv6')
      .flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    const address = info.NetworkSettings.Networks[network()]!.IPAddress;
    await podmanCli(['rm', '-f', '-t', '0', agent()]);
    await podmanCli([
      'run',
      '-d',
      '--name',
      agent(),
      ...labels,
      '--user',
      '65532:65532',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      '--network',
      network(),
      '--ip',
      address,
      '--mount',
      `type=volume,source=ss.${p.name}.agent.workspace,target=/workspace`,
      TEST_IMAGE,
      'sleep',
      '100000',
    ]);
    expect((await sh(agent(), 'cat /proc/sys/net/ipv6/conf/all/disable_ipv6')).out.trim()).toBe('0');
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain('-/+ environment.agent must be replaced');
    expect(planned.stdout).toContain("sandbox made without IPv6 off (no io.sandboxshift.ipv6=off label): it could reach the host over the bridge's IPv6 link-local address; made again with IPv6 off");
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    await promises('made again');
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
  });
});

describe('Podman (CNI): an egress network that gives the host an address', () => {
  let p: TestProject;
  afterAll(async () => {
    await p?.cleanup();
  }, 120_000);

  it('is planned again, with its proxy, and comes back internal with no gateway', async () => {
    p = testProject('podman-opengw', busyboxConfig(`  agent:\n    command: ["sleep", "100000"]\n    egress: { allow: [example.test] }\n`));
    const net = `ss.${p.name}.agent.net`;
    // Made as netavark (or a hand) would leave it: our labels, a gateway for the host.
    const block = 16 * Math.floor(Math.random() * 16);
    const subnet = `10.213.${200 + Math.floor(Math.random() * 50)}.${block}/28`;
    await podmanCli([
      'network',
      'create',
      '--subnet',
      subnet,
      '--label',
      `io.sandboxshift.project=${p.name}`,
      '--label',
      'io.sandboxshift.environment=agent',
      '--label',
      'io.sandboxshift.role=network',
      net,
    ]);
    expect((await podman.getNetwork(net).inspect()).IPAM?.Config?.[0]?.Gateway).toMatch(/^10\.213\.\d+\.\d+$/);
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain("egress network lets the sandbox reach the host at the network's gateway address: network and proxy made again with the gateway isolated");
    const json = JSON.parse((await p.run(['plan', '--format', 'json'])).stdout) as {
      resource_changes: Array<{ address: string; steps: string[]; egress?: { subnet: string; gatewayIsolation: string } }>;
    };
    const change = json.resource_changes.find((c) => c.address === 'environment.agent')!;
    expect(change.steps.slice(0, 2)).toEqual(['remove-network', 'create-network']);
    expect(change.egress).toMatchObject({ subnet, gatewayIsolation: 'cni-no-gateway' });
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    const remade = await podman.getNetwork(net).inspect();
    expect(remade.Internal).toBe(true);
    expect(remade.IPAM?.Config?.map((c) => c.Gateway)).toEqual(['<nil>']);
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
  }, 180_000);
});
