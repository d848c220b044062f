// Issue 9's attacks on a sandbox with an allow list, under runc and runsc: the host's IPv6
// link-local and multicast, the proxy's other ports and addresses, another project's network,
// and all of it again after the engine restarts the sandbox and after `docker stop`/`start`.
// The only destination that may answer is the proxy's port 3128.
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeInternet } from '../support/fake-internet.mjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE, containerOf, docker, dockerCli, sh, testProject, type TestProject } from './harness.js';

/** Ports scanned on the proxy's sandbox-side address: every one but 3128 must refuse. */
const FULL_SCAN = { ports: '$(seq 1 1024) $(seq 3120 3140) 8080 8081 8443', count: 1024 + 21 + 3 };
/** After each restart: the well-known ports, the proxy's neighbours and the usual alternates. */
const QUICK_SCAN = { ports: '$(seq 1 100) 443 $(seq 3120 3140) 8080 8081 8443', count: 100 + 1 + 21 + 3 };

/**
 * One connection attempt per port, one line of result: the open ports, a refusal count, anything
 * else. One after the other: background jobs hang `docker exec` under gVisor (runsc 20221219).
 */
function scanScript(ip: string, ports: string): string {
  return (
    `open=''; refused=0; other=''; for p in ${ports}; do ` +
    `if m=$(nc -w 1 ${ip} $p </dev/null 2>&1); then open="$open $p"; else case "$m" in *"Connection refused"*) refused=$((refused+1));; *) other="$other $p:$m";; esac; fi; done; ` +
    `echo "open:$open refused:$refused other:$other"`
  );
}

function getViaProxy(host: string): string {
  return `a=\${HTTP_PROXY#http://}; (printf 'GET http://${host}/ HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n'; sleep 3) | nc -w 10 \${a%:*} \${a##*:}`;
}

/** A plain HTTP GET straight to an address (IPv4 or scoped IPv6), with nc's own refusal text and exit code. */
function probe(target: string, port: number): string {
  return `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${target} ${port} 2>&1; echo " nc-exit=$?"`;
}

/** Each probe in turn (runsc hangs `docker exec` on background jobs): what each printed, by its name. */
async function probeAll(container: string, targets: Array<[string, string, number]>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [what, target, port] of targets) out.set(what, (await sh(container, probe(target, port))).out);
  return out;
}

const NO_ROUTE = /nc: can't connect to remote host \([\d.]+\): No route to host\s+nc-exit=1/;

/** The modified EUI-64 link-local address a MAC would get if IPv6 were on. */
function linkLocalOf(mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  b[0]! ^= 2;
  const hex = (x: number, y: number) => ((x << 8) | y).toString(16);
  return `fe80::${hex(b[0]!, b[1]!)}:${hex(b[2]!, 0xff)}:${hex(0xfe, b[3]!)}:${hex(b[4]!, b[5]!)}`;
}

async function waitFor<T>(what: string, f: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.each(['runc', 'runsc'])('egress attacks under %s', (runtime) => {
  const tag = `${runtime}-${randomInt(1e6)}`;
  const internet = `ss-e2e-atk-inet-${tag}`;
  const servers: string[] = [];
  let a: TestProject;
  let b: TestProject;
  let host: Server;
  const hits: string[] = [];
  let hostPort = 0;

  const config = (allow: string[]) => `
version: 1
project: {{project}}
images:
  busybox: { ref: ${TEST_IMAGE} }
defaults:
  image: busybox
  runtime: ${runtime}
  # 256m: under gVisor a 64m sandbox is OOM-killed by a shell loop of a thousand short processes.
  resources: { memory: 256m, pids: 64 }
environments:
  agent: { egress: { allow: [${allow.join(', ')}] } }
`;
  const sandbox = () => containerOf(a.name, 'agent');
  const proxy = () => `${sandbox()}.egress`;
  const addressOn = async (container: string, network: string) => (await docker.getContainer(container).inspect()).NetworkSettings.Networks[network]!;
  const proxyIp = async () => (await addressOn(proxy(), `${sandbox()}.net`)).IPAddress;
  const attachProxy = async () => {
    await docker
      .getNetwork(internet)
      .connect({ Container: proxy() })
      .catch((e: { statusCode?: number; message?: string }) => {
        if (!(e.statusCode === 403 && /already exists/.test(e.message ?? ''))) throw e;
      });
  };
  const gatewayOf = async (network: string) => {
    const n = await docker.getNetwork(network).inspect();
    const [p, q, r, s] = (n.IPAM?.Config?.[0]?.Subnet ?? '').split('/')[0]!.split('.');
    return { id: n.Id as string, gateway: `${p}.${q}.${r}.${Number(s) + 1}` };
  };

  /** The checks every restart must leave true: the host's addresses, a direct IP, only 3128 on the proxy. */
  const assertSealed = async (when: string, scanned = QUICK_SCAN) => {
    const envNet = await gatewayOf(`${sandbox()}.net`);
    const outside = (await addressOn(proxy(), `ss.${a.name}.egress-out`)).Gateway;
    const inet = (await addressOn(`ss-e2e-atk-allowed-test-${tag}`, internet)).IPAddress;
    const targets: Array<[string, string, number]> = [
      ['the host at the gateway of the sandbox network', envNet.gateway, hostPort],
      ['the host at the gateway of the outside network', outside, hostPort],
      ['a server on the fake internet, by IP', inet, 80],
    ];
    const results = await probeAll(sandbox(), targets);
    for (const [what] of targets) expect(results.get(what), `${when}: ${what}`).toMatch(NO_ROUTE);
    const scan = await sh(sandbox(), scanScript(await proxyIp(), scanned.ports));
    expect(scan.out.trim(), `${when}: the proxy's ports`).toBe(`open: 3128 refused:${scanned.count - 1} other:`);
    expect((await sh(sandbox(), getViaProxy('allowed.test'))).out, `${when}: the way out`).toMatch(/^HTTP\/1\.[01] 200/);
    expect(hits, `${when}: the host server saw no connection`).toEqual([]);
  };

  beforeAll(async () => {
    host = createServer((req, res) => {
      hits.push(req.socket.remoteAddress ?? '');
      res.end('host-service');
    });
    // '::' listens on every IPv4 and IPv6 address of the host (dual stack), link-local included.
    await new Promise<void>((r) => host.listen(0, '::', r));
    hostPort = (host.address() as AddressInfo).port;
    await createFakeInternet(docker, internet, { 'io.sandboxshift.test': '1' });
    for (const alias of ['allowed.test', 'later.test', 'blocked.test']) {
      const name = `ss-e2e-atk-${alias.replaceAll('.', '-')}-${tag}`;
      const c = await docker.createContainer({
        name,
        Image: TEST_IMAGE,
        User: '0',
        Cmd: ['sh', '-c', `mkdir -p /tmp/www && echo ${alias} > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www`],
        HostConfig: { NetworkMode: internet },
        NetworkingConfig: { EndpointsConfig: { [internet]: { Aliases: [alias] } } },
      });
      await c.start();
      servers.push(name);
    }
    a = testProject(`atk-a-${runtime}`, config(['allowed.test']));
    b = testProject(`atk-b-${runtime}`, config(['allowed.test']));
    for (const p of [a, b]) {
      const r = await p.run(['apply', '--auto-approve']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    await attachProxy();
  });

  afterAll(async () => {
    host?.close();
    await a?.cleanup();
    await b?.cleanup();
    for (const s of servers) await docker.getContainer(s).remove({ force: true });
    await docker
      .getNetwork(internet)
      .remove()
      .catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404) throw e;
      });
  });

  it('has no IPv6: the host bridge link-local (host server on ::), the proxy link-local and ff02::1 multicast all refuse', async () => {
    const envNet = await gatewayOf(`${sandbox()}.net`);
    const bridge = `br-${envNet.id.slice(0, 12)}`;
    const shown = await dockerCli(['run', '--rm', '--network', 'host', TEST_IMAGE, 'ip', '-6', 'addr', 'show', bridge]);
    const hostLinkLocal = /inet6 (fe80::[0-9a-f:]+)\/64 scope link/.exec(shown)?.[1];
    // The host does have a link-local address on the sandbox's bridge, and the server answers on it.
    expect(hostLinkLocal, shown).toBeDefined();
    const fromHost = await dockerCli(['run', '--rm', '--network', 'host', TEST_IMAGE, 'sh', '-c', probe(`${hostLinkLocal}%${bridge}`, hostPort)]);
    expect(fromHost).toContain('host-service');
    hits.length = 0;
    // The sandbox and the proxy have no IPv6 address at all (the engine turns IPv6 off in their namespaces).
    for (const c of [sandbox(), proxy()]) {
      const pid = (await docker.getContainer(c).inspect()).State.Pid;
      const ns = execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'sh', '-c', 'ip -6 addr; cat /proc/sys/net/ipv6/conf/all/disable_ipv6'], { encoding: 'utf8' });
      expect(ns.trim(), c).toBe('1');
    }
    const proxyLinkLocal = linkLocalOf((await addressOn(proxy(), `${sandbox()}.net`)).MacAddress);
    for (const target of [hostLinkLocal!, proxyLinkLocal]) {
      const r = await sh(sandbox(), probe(`${target}%eth0`, hostPort));
      expect(r.out, target).toMatch(/nc: can't connect to remote host: Cannot assign requested address\s+nc-exit=1/);
    }
    // Multicast discovery: a UDP datagram to all nodes (tftp), and a TCP connect to the group.
    const udp = await sh(sandbox(), 'timeout 5 tftp -g -r x -l /tmp/x ff02::1%eth0 69');
    expect(udp.out).toContain('tftp: sendto: Cannot assign requested address');
    const tcp = await sh(sandbox(), 'nc -w 1 ff02::1%eth0 80 </dev/null');
    expect(tcp.out).toContain("nc: can't connect to remote host: Network is unreachable");
    expect(hits).toEqual([]);
  });

  it('finds only port 3128 open on the proxy, and no way to its outside address', async () => {
    await assertSealed('at first', FULL_SCAN);
    const outsideIp = (await addressOn(proxy(), `ss.${a.name}.egress-out`)).IPAddress;
    for (const port of [3128, 8081]) {
      const r = await sh(sandbox(), probe(outsideIp, port));
      expect(r.out, `proxy outside address port ${port}`).toMatch(NO_ROUTE);
    }
  });

  it('reaches a listener planted inside the proxy on its sandbox-side address only (the boundary: only the proxy runs there)', async () => {
    // The proxy image runs only the proxy and the sandbox cannot exec into it: a second listener
    // there needs someone with the engine's socket. This documents what such a listener would expose.
    // The proxy image has no Node (the proxy is one Go binary); Debian's perl-base is there.
    const listener = 'my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => 8081, Listen => 5, ReuseAddr => 1) or die $!; while (my $c = $s->accept) { print $c "planted\\n"; close $c }';
    await dockerCli(['exec', '-d', '-u', '65532:65532', proxy(), 'perl', '-MIO::Socket::INET', '-e', listener]);
    const ip = await proxyIp();
    const inside = await waitFor('the planted listener', async () => {
      const r = await sh(sandbox(), `nc -w 2 ${ip} 8081 </dev/null`);
      return r.out.includes('planted') ? r : null;
    });
    expect(inside.rc).toBe(0);
    const outsideIp = (await addressOn(proxy(), `ss.${a.name}.egress-out`)).IPAddress;
    expect((await sh(sandbox(), probe(outsideIp, 8081))).out).toMatch(NO_ROUTE);
    // A restart of the proxy clears it: the image's entrypoint is the proxy alone.
    await dockerCli(['restart', '-t', '1', proxy()]);
    await waitFor('the proxy to listen again', async () => ((await sh(sandbox(), getViaProxy('allowed.test'))).out.startsWith('HTTP/1') ? true : null));
    expect((await sh(sandbox(), `nc -w 2 ${ip} 8081 </dev/null`)).out).toContain('Connection refused');
  });

  it("reaches nothing of another project: its sandbox, its proxy's two addresses, its outside network's gateway", async () => {
    const otherSandbox = containerOf(b.name, 'agent');
    const otherProxy = `${otherSandbox}.egress`;
    const targets: Array<[string, string, number]> = [
      ["B's sandbox", (await addressOn(otherSandbox, `${otherSandbox}.net`)).IPAddress, hostPort],
      ["B's proxy, sandbox side", (await addressOn(otherProxy, `${otherSandbox}.net`)).IPAddress, 3128],
      ["B's proxy, outside side", (await addressOn(otherProxy, `ss.${b.name}.egress-out`)).IPAddress, 3128],
      ["the host at B's outside gateway", (await addressOn(otherProxy, `ss.${b.name}.egress-out`)).Gateway, hostPort],
    ];
    const results = await probeAll(sandbox(), targets);
    for (const [what] of targets) expect(results.get(what), what).toMatch(NO_ROUTE);
    expect(hits).toEqual([]);
  });

  it('stays sealed after the engine restarts the sandbox by its restart policy (its process killed from the host)', async () => {
    const before = await docker.getContainer(sandbox()).inspect();
    expect(before.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
    // Under runsc State.Pid is the gVisor sandbox process, under runc the container's init.
    process.kill(before.State.Pid, 'SIGKILL');
    await waitFor('the engine to restart the sandbox', async () => {
      const now = await docker.getContainer(sandbox()).inspect();
      return now.RestartCount > before.RestartCount && now.State.Running && !now.State.Restarting && now.State.Pid !== before.State.Pid ? now : null;
    });
    await waitFor('exec in the restarted sandbox', async () => ((await sh(sandbox(), 'true').catch(() => null))?.rc === 0 ? true : null));
    await assertSealed('after the engine restarted the sandbox');
  });

  it('stays sealed after docker stop and start of the sandbox, and of the proxy (which enforces the current allow list)', async () => {
    await dockerCli(['stop', '-t', '1', sandbox()]);
    await dockerCli(['start', sandbox()]);
    await assertSealed('after docker stop + start of the sandbox');
    // The allow list changes in place, then the proxy is stopped and started by hand.
    a.write(config(['allowed.test', 'later.test']));
    const r = await a.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await attachProxy();
    await dockerCli(['stop', '-t', '1', proxy()]);
    await dockerCli(['start', proxy()]);
    await waitFor('the proxy to listen again', async () => ((await sh(sandbox(), getViaProxy('allowed.test'))).out.startsWith('HTTP/1') ? true : null));
    const later = await sh(sandbox(), getViaProxy('later.test'));
    expect(later.out).toMatch(/^HTTP\/1\.[01] 200/);
    expect(later.out.trimEnd().endsWith('later.test')).toBe(true);
    expect((await sh(sandbox(), getViaProxy('blocked.test'))).out).toMatch(/^HTTP\/1\.[01] 403/);
    await assertSealed('after docker stop + start of the proxy');
  });
});
