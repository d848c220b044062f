// Hardening, proven from inside real sandboxes under runc and runsc.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, docker, dockerCli, sh, testProject, type TestProject } from './harness.js';

describe.each(['runc', 'runsc'])('hardening under %s', (runtime) => {
  let p: TestProject;
  const c = () => containerOf(p.name, 'box');
  beforeAll(async () => {
    p = testProject(
      `harden-${runtime}`,
      `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  box: { image: busybox, runtime: ${runtime}, resources: { cpus: 0.5, memory: 64m, pids: 48 } }
`,
    );
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
  afterAll(async () => p.cleanup());

  it('runs as a non-root user with no capabilities', async () => {
    expect((await sh(c(), 'id -u')).out.trim()).toBe('65532');
    const status = (await sh(c(), 'cat /proc/self/status')).out;
    // gVisor's /proc has no CapAmb line (nor NoNewPrivs, below); every set it does show is empty.
    const sets = runtime === 'runc' ? ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'] : ['CapInh', 'CapPrm', 'CapEff', 'CapBnd'];
    for (const set of sets) expect(status, set).toMatch(new RegExp(`^${set}:\\s+0000000000000000$`, 'm'));
    // gVisor does not report NoNewPrivs in /proc; runc does.
    if (runtime === 'runc') expect(status).toMatch(/NoNewPrivs:\s+1/);
    expect((await docker.getContainer(c()).inspect()).HostConfig.SecurityOpt).toContain('no-new-privileges:true');
  });

  // Each refusal is asserted by its own words: a missing applet ("not found") also exits non-zero.
  it('has the tools the refusals below come from', async () => {
    expect((await sh(c(), 'busybox --list')).out.split('\n')).toEqual(expect.arrayContaining(['ls', 'ping', 'ip', 'su']));
  });

  it('has no docker socket', async () => {
    const ls = await sh(c(), 'ls /var/run/docker.sock /run/docker.sock');
    expect(ls.out).toContain('ls: /var/run/docker.sock: No such file or directory');
    expect(ls.out).toContain('ls: /run/docker.sock: No such file or directory');
    expect(ls.rc).toBe(1);
  });

  it('cannot open a raw socket', async () => {
    const ping = await sh(c(), 'ping -c 1 -W 1 127.0.0.1');
    // runc: no CAP_NET_RAW (EPERM). gVisor with no network has no raw sockets at all (EAFNOSUPPORT).
    expect(ping.out).toContain(runtime === 'runc' ? 'ping: permission denied (are you root?)' : "ping: can't create raw socket: Address family not supported by protocol");
    expect(ping.rc).toBe(1);
  });

  it('cannot administer the network', async () => {
    const link = await sh(c(), 'ip link add ssdummy0 type dummy');
    // No CAP_NET_ADMIN: the kernel says EPERM, gVisor's netstack EACCES.
    expect(link.out).toContain(runtime === 'runc' ? 'ip: RTNETLINK answers: Operation not permitted' : 'ip: RTNETLINK answers: Permission denied');
    expect(link.rc).toBe(2);
  });

  it('cannot become root', async () => {
    const su = await sh(c(), 'su -c id root </dev/null');
    // No setuid binary in the image, and no-new-privileges (above) would void one anyway.
    expect(su.out).toContain('su: must be suid to work properly');
    expect(su.rc).toBe(1);
    expect((await sh(c(), 'find / -xdev -perm -4000 2>/dev/null')).out.trim()).toBe('');
  });
});

// Under runc the pids cgroup stops it; under runsc, RLIMIT_NPROC inside gVisor does (the cgroup
// there counts gVisor's own host threads: see engine/container-spec.ts).
describe.each(['runc', 'runsc'])('a fork bomb under %s', (runtime) => {
  let p: TestProject;
  beforeAll(async () => {
    p = testProject(
      `forkbomb-${runtime}`,
      `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  box: { image: busybox, runtime: ${runtime}, resources: { cpus: 0.5, memory: 64m, pids: 48 } }
`,
    );
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
  afterAll(async () => p.cleanup());

  it('stops at the pids limit without hurting the host', async () => {
    const c = containerOf(p.name, 'box');
    const bomb = await dockerCli(['exec', c, 'sh', '-c', 'n=0; while [ $n -lt 400 ]; do sleep 60 & n=$((n+1)); done; echo started $n'], 90_000).catch((e: Error) => e.message);
    expect(bomb).toMatch(/can't fork|Resource temporarily unavailable/i);
    expect(bomb).not.toContain('started 400');
    // Counted from the host: the sandbox is full, it cannot even start `ps`.
    const top = await docker.getContainer(c).top();
    expect(top.Processes.length).toBeGreaterThan(10);
    expect(top.Processes.length).toBeLessThanOrEqual(48);
    expect((await docker.ping()).toString()).toBe('OK');
  });
});
