// The allow list is the promise: attack it from inside real sandboxes, under runc and runsc.
// The suite's own "internet" is containers on networks it creates: nothing leaves the machine.
import { randomInt } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeInternet } from '../support/fake-internet.mjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE, containerOf, docker, dockerCli, sh, testProject, type TestProject } from './harness.js';

const HOSTS = ['allowed.test', 'blocked.test', 'evilallowed.test', 'allowed.test.evil.test'];

/**
 * An HTTP GET through the environment's proxy, as any HTTP_PROXY-aware client sends it.
 * (busybox-static's wget crashes on this machine; nc speaks the protocol by hand.)
 */
function getViaProxy(host: string): string {
  // The request side stays open (as curl and pip keep it) while the answer comes back.
  return `a=\${HTTP_PROXY#http://}; (printf 'GET http://${host}/ HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n'; sleep 4) | nc -w 10 \${a%:*} \${a##*:}`;
}

/** `printf | nc`: nc shuts down its sending side at the end of the request (a half-close), then reads the answer. */
function halfClosedViaProxy(request: string): string {
  return `a=\${HTTP_PROXY#http://}; printf '${request}' | nc -w 10 \${a%:*} \${a##*:}`;
}

/** A direct GET, not through the proxy. */
function getDirect(target: string): string {
  return `printf 'GET / HTTP/1.0\\r\\nHost: allowed.test\\r\\n\\r\\n' | nc -w 5 ${target} 80`;
}

async function httpLog(name: string): Promise<string> {
  return dockerCli(['logs', name]).catch((e: Error) => e.message);
}

describe.each(['runc', 'runsc'])('egress under %s', (runtime) => {
  const tag = `${runtime}-${randomInt(1e6)}`;
  const internet = `ss-e2e-inet-${tag}`;
  const privateNet = `ss-e2e-priv-${tag}`;
  const servers: string[] = [];
  let p: TestProject;
  let proxy = '';
  let proxyIp = '';
  let inetSubnet = '';

  const config = (allow: string[]) => `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
defaults:
  image: busybox
  runtime: ${runtime}
  resources: { memory: 64m, pids: 64 }
environments:
  agent: { egress: { allow: [${allow.join(', ')}] } }
  other: { egress: { allow: [allowed.test] } }
`;

  const attachProxy = async () => {
    await docker.getNetwork(internet).connect({ Container: proxy });
    await docker.getNetwork(privateNet).connect({ Container: proxy });
  };

  beforeAll(async () => {
    const octet = randomInt(0, 250);
    inetSubnet = await createFakeInternet(docker, internet, { 'io.sandboxshift.test': '1' });
    await docker.createNetwork({ Name: privateNet, IPAM: { Config: [{ Subnet: `10.77.${octet}.0/24` }] }, Labels: { 'io.sandboxshift.test': '1' } });
    const serve = async (alias: string, network: string) => {
      const name = `ss-e2e-${alias.replaceAll('.', '-')}-${tag}`;
      const c = await docker.createContainer({
        name,
        Image: 'sandboxshift/busybox:test',
        User: '0',
        Cmd: ['sh', '-c', `mkdir -p /tmp/www && echo ${alias} > /tmp/www/index.html && exec httpd -f -v -p 80 -h /tmp/www`],
        HostConfig: { NetworkMode: network },
        NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: [alias] } } },
      });
      await c.start();
      servers.push(name);
    };
    for (const h of HOSTS) await serve(h, internet);
    await serve('private.test', privateNet);
    p = testProject(`egress-${runtime}`, config(['allowed.test', 'private.test']));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    proxy = `ss.${p.name}.agent.egress`;
    proxyIp = (await docker.getContainer(proxy).inspect()).NetworkSettings.Networks[`ss.${p.name}.agent.net`]!.IPAddress;
    await attachProxy();
  });

  afterAll(async () => {
    await p?.cleanup();
    for (const s of servers) await docker.getContainer(s).remove({ force: true });
    for (const n of [internet, privateNet])
      await docker
        .getNetwork(n)
        .remove()
        .catch((e: { statusCode?: number }) => {
          if (e.statusCode !== 404) throw e;
        });
    for (const n of await docker.listNetworks({ filters: { label: [`io.sandboxshift.project=${p?.name}`] } })) await docker.getNetwork(n.Id).remove();
  });

  const agent = () => containerOf(p.name, 'agent');

  it('reaches an allowed name through the proxy, set by IP in the environment', async () => {
    const env = await sh(agent(), 'echo $HTTP_PROXY');
    expect(env.out.trim()).toBe(`http://${proxyIp}:3128`);
    const r = await sh(agent(), getViaProxy('allowed.test'));
    expect(r.out).toMatch(/^HTTP\/1\.[01] 200/);
    expect(r.out.trimEnd().endsWith('allowed.test')).toBe(true);
  });

  it('answers a client that half-closes after its request, forwarded and through a tunnel', async () => {
    const get = `GET http://allowed.test/ HTTP/1.0\\r\\nHost: allowed.test\\r\\n\\r\\n`;
    const forwarded = await sh(agent(), halfClosedViaProxy(get));
    expect(forwarded.out).toMatch(/^HTTP\/1\.[01] 200/);
    expect(forwarded.out.trimEnd().endsWith('allowed.test')).toBe(true);
    const connect = `CONNECT allowed.test:80 HTTP/1.1\\r\\nHost: allowed.test:80\\r\\n\\r\\nGET / HTTP/1.0\\r\\nHost: allowed.test\\r\\n\\r\\n`;
    const tunneled = await sh(agent(), halfClosedViaProxy(connect));
    expect(tunneled.out).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.[01] 200/);
    expect(tunneled.out.trimEnd().endsWith('allowed.test')).toBe(true);
  });

  it('refuses a blocked name at the proxy and never dials it', async () => {
    const r = await sh(agent(), getViaProxy('blocked.test'));
    expect(r.out).toMatch(/^HTTP\/1\.[01] 403/);
    expect(r.out).not.toContain('blocked.test\n');
    expect(await httpLog(`ss-e2e-blocked-test-${tag}`)).not.toMatch(/GET|response/i);
  });

  it('refuses lookalike names', async () => {
    for (const host of ['evilallowed.test', 'allowed.test.evil.test']) {
      const r = await sh(agent(), getViaProxy(host));
      expect(r.out, host).toMatch(/^HTTP\/1\.[01] 403/);
    }
  });

  it('gets nowhere without the proxy: no route, no DNS, no direct IP', async () => {
    const inetIp = (await docker.getContainer(`ss-e2e-allowed-test-${tag}`).inspect()).NetworkSettings.Networks[internet]!.IPAddress;
    const noProxy = await sh(agent(), getDirect('allowed.test'));
    expect(noProxy.rc).not.toBe(0);
    expect(noProxy.out).not.toContain('HTTP/1');
    const direct = await sh(agent(), getDirect(inetIp));
    expect(direct.rc).not.toBe(0);
    expect(direct.out).not.toContain('HTTP/1');
    const dns = await sh(agent(), 'nslookup allowed.test');
    expect(dns.rc).not.toBe(0);
    expect(dns.out).not.toContain(`Address: ${inetSubnet.split('.').slice(0, 3).join('.')}.`);
    const v6 = await sh(agent(), 'cat /proc/net/if_inet6 2>/dev/null | grep -v " lo$" | wc -l');
    expect(v6.out.trim()).toBe('0');
  });

  it('cannot reach the host: the network has no host address at its gateway, even after the engine restarts the sandbox', async () => {
    // A host service listening on all addresses, as a database or an engine TCP socket might.
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(req.socket.remoteAddress ?? '');
      res.end('host-service');
    });
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const net = await docker.getNetwork(`ss.${p.name}.agent.net`).inspect();
      // The gateway is the subnet's first address (.1 of its /28), where Docker would put the host.
      const [a, b, c, d] = (net.IPAM?.Config?.[0]?.Subnet ?? '').split('/')[0]!.split('.');
      const gateway = `${a}.${b}.${c}.${Number(d) + 1}`;
      expect(gateway).toMatch(/^10\.213\.\d+\.\d+$/);
      expect(net.Options?.['com.docker.network.bridge.inhibit_ipv4']).toBe('true');
      // The host has no IPv4 address on the bridge at all.
      expect(await dockerCli(['run', '--rm', '--network', 'host', TEST_IMAGE, 'ip', '-4', 'addr', 'show', `br-${net.Id.slice(0, 12)}`])).not.toContain('inet ');
      const probe = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${gateway} ${port}; echo "nc-exit=$?"`;
      const before = await sh(agent(), probe);
      expect(before.out).not.toContain('host-service');
      expect(before.out).toMatch(/nc-exit=1|timed out|No route to host|Network is unreachable/);
      await dockerCli(['restart', '-t', '1', agent()]);
      const after = await sh(agent(), probe);
      expect(after.out).not.toContain('host-service');
      // The proxy still answers on its port after the restart.
      expect((await sh(agent(), getViaProxy('allowed.test'))).out).toMatch(/^HTTP\/1\.[01] 200/);
      expect(hits).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('refuses CONNECT to an allowed host on a port that is not allowed', async () => {
    const r = await sh(agent(), `printf 'CONNECT allowed.test:22 HTTP/1.1\\r\\nHost: allowed.test:22\\r\\n\\r\\n' | nc -w 5 ${proxyIp} 3128 | head -1`);
    expect(r.out).toMatch(/^HTTP\/1\.[01] 403/);
  });

  it('refuses a name that resolves to a private address', async () => {
    const r = await sh(agent(), getViaProxy('private.test'));
    expect(r.out).toMatch(/^HTTP\/1\.[01] 403/);
  });

  it('cannot reach another sandbox or its proxy', async () => {
    const otherProxy = `ss.${p.name}.other.egress`;
    const otherIp = (await docker.getContainer(otherProxy).inspect()).NetworkSettings.Networks[`ss.${p.name}.other.net`]!.IPAddress;
    const r = await sh(agent(), `nc -w 3 ${otherIp} 3128 </dev/null`);
    expect(r.rc).not.toBe(0);
  });

  it('logs every decision, readable with sandboxshift logs --egress', async () => {
    const r = await p.run(['logs', 'agent', '--egress']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(lines.some((l) => l.host === 'allowed.test' && l.decision === 'allow')).toBe(true);
    expect(lines.some((l) => l.host === 'blocked.test' && l.decision === 'deny')).toBe(true);
  });

  it('widens the allow list without recreating the environment or its proxy, flagged in the plan', async () => {
    const before = (await docker.getContainer(agent()).inspect()).Id;
    const proxyBefore = (await docker.getContainer(proxy).inspect()).Id;
    p.write(config(['allowed.test', 'private.test', 'blocked.test']));
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain('~ environment.agent will be updated in place');
    expect(planned.stdout).toContain('! security: egress widened: blocked.test');
    expect(planned.stdout).toContain('because:   egress WIDENED: +blocked.test (policy reloaded in place)');
    expect(planned.stdout).toContain('data:      none');
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await docker.getContainer(agent()).inspect()).Id).toBe(before);
    // Reloaded in place: the same proxy, still on the test's networks.
    expect((await docker.getContainer(proxy).inspect()).Id).toBe(proxyBefore);
    const now = await sh(agent(), getViaProxy('blocked.test'));
    expect(now.out).toMatch(/^HTTP\/1\.[01] 200/);
    expect(now.out.trimEnd().endsWith('blocked.test')).toBe(true);
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('lets nothing out with the proxy killed', async () => {
    await dockerCli(['kill', proxy]);
    const r = await sh(agent(), getViaProxy('allowed.test'));
    expect(r.out).not.toContain('HTTP/1');
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain('egress proxy not running');
  });
});
