// The sandbox's address on its egress network is fixed and is never the proxy's: after an engine
// restart a dynamic one could be .2, and the proxy then fails to start (see egress-engine-restart e2e).
import { describe, expect, it } from 'vitest';
import { containerCreateOptions } from '../../../src/engine/container-spec.js';
import type { EgressPlan } from '../../../src/model/egress.js';
import { plan } from '../../../src/plan/index.js';
import { desiredOf, env, observedOf } from '../plan/fixtures.js';

describe('an egress sandbox create request', () => {
  it('asks for the fixed address .3 of its network, next to the proxy at .2', () => {
    const desired = desiredOf([env('a', { egress: { mode: 'allow' as const, allow: ['pypi.org'] } })]);
    const change = plan(desired, observedOf([])).changes.find((c) => c.address === 'environment.a')!;
    const e = (change as { egress: EgressPlan }).egress;
    const options = containerCreateOptions('demo', desired.environments.get('a')!, e);
    const base = e.subnet.split('/')[0]!.split('.').map(Number);
    expect(e.proxyAddress).toBe(`${base[0]}.${base[1]}.${base[2]}.${base[3]! + 2}`);
    expect(options.HostConfig?.NetworkMode).toBe(e.network);
    expect(options.NetworkingConfig).toEqual({ EndpointsConfig: { [e.network]: { IPAMConfig: { IPv4Address: `${base[0]}.${base[1]}.${base[2]}.${base[3]! + 3}` } } } });
  });

  it("turns IPv6 off (sysctls, and a label saying so) on Podman with CNI only; Docker's request is unchanged", () => {
    const desired = desiredOf([env('a', { egress: { mode: 'allow' as const, allow: ['pypi.org'] } })]);
    const change = plan(desired, observedOf([])).changes.find((c) => c.address === 'environment.a')!;
    const docker = (change as { egress: EgressPlan }).egress;
    expect(docker.gatewayIsolation).toBe('inhibit-ipv4');
    const onDocker = containerCreateOptions('demo', desired.environments.get('a')!, docker);
    expect(onDocker.HostConfig?.Sysctls).toBeUndefined();
    expect(onDocker.Labels?.['io.sandboxshift.ipv6']).toBeUndefined();
    const onPodman = containerCreateOptions('demo', desired.environments.get('a')!, { ...docker, gatewayIsolation: 'cni-no-gateway' });
    expect(onPodman.HostConfig?.Sysctls).toEqual({ 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' });
    expect(onPodman.Labels?.['io.sandboxshift.ipv6']).toBe('off');
  });

  it('asks for no address without egress', () => {
    const desired = desiredOf([env('a')]);
    expect(containerCreateOptions('demo', desired.environments.get('a')!).NetworkingConfig).toBeUndefined();
  });
});
