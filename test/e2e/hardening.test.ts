// Hardening, proven from inside real sandboxes under runc and runsc.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, docker, dockerCli, sh, testProject, type TestProject } from './harness.js';

describe.each(['runc', 'runsc'])('hardening under %s', (runtime) => {
  let p: TestProject;
  const c = () => containerOf(p.name, 'box');
  beforeAll(async () => {
    p = testProject(`harden-${runtime}`, `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  box: { image: busybox, runtime: ${runtime}, resources: { cpus: 0.5, memory: 64m, pids: 48 } }
`);
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
  afterAll(async () => p.cleanup());

  it('runs as a non-root user with no capabilities', async () => {
    expect((await sh(c(), 'id -u')).out.trim()).toBe('65532');
    const status = (await sh(c(), 'cat /proc/self/status')).out;
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
      const line = status.split('\n').find((l) => l.startsWith(`${set}:`));
      if (line) expect(line, set).toMatch(/:\s+0000000000000000$/);
    }
    expect(status).toMatch(/CapEff:\s+0000000000000000/);
    // gVisor does not report NoNewPrivs in /proc; runc does.
    if (runtime === 'runc') expect(status).toMatch(/NoNewPrivs:\s+1/);
    expect((await docker.getContainer(c()).inspect()).HostConfig.SecurityOpt).toContain('no-new-privileges:true');
  });

  it('has no docker socket, no raw sockets and no network administration', async () => {
    expect((await sh(c(), 'ls /var/run/docker.sock /run/docker.sock')).rc).not.toBe(0);
    const ping = await sh(c(), 'ping -c 1 -W 1 127.0.0.1');
    expect(ping.rc).not.toBe(0);
    const link = await sh(c(), 'ip link add ssdummy0 type dummy');
    expect(link.rc).not.toBe(0);
    const su = await sh(c(), 'su -c id root </dev/null');
    expect(su.rc).not.toBe(0);
  });
});

// Under runc the pids cgroup stops it; under runsc, RLIMIT_NPROC inside gVisor does (the cgroup
// there counts gVisor's own host threads: see engine/container-spec.ts).
describe.each(['runc', 'runsc'])('a fork bomb under %s', (runtime) => {
  let p: TestProject;
  beforeAll(async () => {
    p = testProject(`forkbomb-${runtime}`, `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  box: { image: busybox, runtime: ${runtime}, resources: { cpus: 0.5, memory: 64m, pids: 48 } }
`);
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
