// A sandbox on its egress network sits at the fixed .3 of its subnet (the proxy has .2). One with
// a dynamic address, as environments made before the fixed address have, is replaced.
import { afterAll, describe, expect, it } from 'vitest';
import { busyboxConfig, containerOf, docker, dockerCli, testProject } from './harness.js';

describe('an egress sandbox without its fixed address', () => {
  const p = testProject('egress-addr', busyboxConfig('  agent: { egress: { allow: [allowed.test] } }\n'));
  afterAll(() => p.cleanup());

  const endpoint = async () => {
    const info = await docker.getContainer(containerOf(p.name, 'agent')).inspect();
    const n = info.NetworkSettings.Networks[`ss.${p.name}.agent.net`];
    return { id: info.Id, address: n?.IPAddress ?? '', fixed: (n?.IPAMConfig as { IPv4Address?: string } | null | undefined)?.IPv4Address ?? null };
  };

  it('is planned for replacement naming the address, and apply fixes it at .3', async () => {
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stderr).toBe(0);
    const made = await endpoint();
    const three = made.fixed!;
    expect(three).toMatch(/^10\.213\.\d+\.\d+$/);
    expect(made.address).toBe(three);
    expect(Number(three.split('.')[3]) % 16).toBe(3);

    // The old way: on its network without a fixed address (as `docker network connect` without --ip leaves it).
    const net = `ss.${p.name}.agent.net`;
    await dockerCli(['network', 'disconnect', net, made.id]);
    await dockerCli(['network', 'connect', net, made.id]);
    const old = await endpoint();
    expect(old.fixed).toBeNull();
    expect(old.address).toMatch(/^10\.213\./);

    const planned = await p.run(['plan', '--detailed-exitcode']);
    expect(planned.code, planned.stderr).toBe(2);
    expect(planned.stdout).toContain('-/+ environment.agent must be replaced');
    expect(planned.stdout).toContain(
      `because:   sandbox address on ${net} is dynamic (now ${old.address}): an engine restart could give it the proxy's address; made again with the fixed address ${three}`,
    );
    expect(planned.stdout).toContain('data:      new container; /workspace kept');

    const fixed = await p.run(['apply', '--auto-approve']);
    expect(fixed.code, fixed.stderr).toBe(0);
    const now = await endpoint();
    expect(now.id).not.toBe(made.id);
    expect(now).toMatchObject({ address: three, fixed: three });
    const again = await p.run(['plan', '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
  });
});
