// Egress in the pure planner: networks and proxies as planned resources, allow-list changes
// without touching the environment, widening flagged.
import { describe, expect, it } from 'vitest';
import { poolStart } from '../../../src/plan/egress.js';
import { observedFingerprint } from '../../../src/plan/fingerprint.js';
import { gatewayIsolationFor, gatewayIsolationOf, gatewayIsolationOptions, subnetAt } from '../../../src/model/egress.js';
import { plan, planDestroy } from '../../../src/plan/index.js';
import { planToJson, renderMarkdown, renderText } from '../../../src/render/index.js';
import type { ObservedProxy } from '../../../src/model/observed.js';
import { applied, desiredOf, env, observedOf } from './fixtures.js';

const allow = (...list: string[]) => ({ egress: { mode: 'allow' as const, allow: list } });

function withEgress(observed: ReturnType<typeof observedOf>, proxies: ObservedProxy[], subnets: Record<string, string>, outside = true) {
  return {
    ...observed,
    outsideNetwork: outside,
    proxies: new Map(proxies.map((p) => [p.environment, p])),
    networks: new Map(Object.entries(subnets).map(([e, s]) => [e, { id: `net-${e}`, name: `ss.demo.${e}.net`, subnets: [s], gatewayIsolated: true }])),
    usedSubnets: [...observed.usedSubnets, ...Object.values(subnets)],
  };
}

describe('egress planning', () => {
  it('gives a new environment its network, proxy and the outside network, avoiding used subnets', () => {
    const desired = desiredOf([env('a', allow('pypi.org')), env('b', allow('*.github.com'))]);
    // The project's first block is taken: the next two are used.
    const start = poolStart('demo');
    const observed = { ...observedOf([]), usedSubnets: [subnetAt(start), '172.17.0.0/16'] };
    const p = plan(desired, observed);
    const a = p.changes.find((c) => c.address === 'environment.a')!;
    const b = p.changes.find((c) => c.address === 'environment.b')!;
    expect(p.changes[0]!.address).toBe('network.egress-out');
    expect(a.steps).toEqual(['create-network', 'create-proxy', 'create-container', 'start']);
    expect(start).toBe(3571);
    expect(a).toMatchObject({ egress: { network: 'ss.demo.a.net', subnet: '10.213.223.64/28', proxyAddress: '10.213.223.66', allow: ['pypi.org'] } });
    expect(b).toMatchObject({ egress: { subnet: '10.213.223.80/28' } });
    expect(a.dependsOn).toEqual(expect.arrayContaining(['network.egress-out', 'image.sandboxshift-egress']));
  });

  it('starts each project somewhere else in the pool, so two projects planning at once do not pick the same block', () => {
    const starts = ['demo', 'team-a', 'team-b', 'ci', 'e2e-egress-runc-1a2b3c'].map(poolStart);
    expect(new Set(starts).size).toBe(starts.length);
    expect(starts.every((s) => s >= 0 && s < 4096)).toBe(true);
  });

  it('wraps around the end of the pool', () => {
    const desired = desiredOf([env('a', allow('pypi.org'))]);
    const used = Array.from({ length: 4096 - poolStart('demo') }, (_, i) => subnetAt(poolStart('demo') + i));
    const a = plan(desired, { ...observedOf([]), usedSubnets: used }).changes.find((c) => c.address === 'environment.a')!;
    expect(a).toMatchObject({ egress: { subnet: '10.213.0.0/28' } });
  });

  it('changes an allow list by reloading the running proxy in place, and flags widening first', () => {
    const old = desiredOf([env('a', allow('pypi.org')), env('z')]);
    const now = desiredOf([env('a', allow('pypi.org', 'evil.example')), env('z', { env: { X: '1' } })]);
    const observed = withEgress(
      observedOf([...old.environments.values()].map((d) => applied(d))),
      [{ id: 'p1', name: 'ss.demo.a.egress', environment: 'a', state: 'running', allow: ['pypi.org'], image: now.images.get('sandboxshift-egress')!.ref, imageId: 'x' }],
      { a: '10.213.0.0/28' },
    );
    const p = plan(now, observed);
    const a = p.changes.find((c) => c.address === 'environment.a')!;
    expect(a.kind).toBe('update');
    expect(a.dataEffect).toBe('none');
    expect(a.steps).toEqual(['reload-egress-policy']);
    expect(a.reasons.map((r) => r.message)).toEqual(['egress WIDENED: +evil.example (policy reloaded in place)']);
    expect(a.security).toEqual(['egress widened: evil.example']);
    const text = renderText(planToJson(p));
    expect(text.indexOf('environment.a')).toBeLessThan(text.indexOf('environment.z'));
    expect(text).toContain('! security: egress widened: evil.example');
  });

  it('takes the proxy and network away when the allow list goes, after the container', () => {
    const old = desiredOf([env('a', allow('pypi.org'))]);
    const now = desiredOf([env('a')]);
    const observed = withEgress(
      observedOf([applied(old.environments.get('a')!)]),
      [{ id: 'p1', name: 'ss.demo.a.egress', environment: 'a', state: 'running', allow: ['pypi.org'], image: 'img', imageId: 'x' }],
      { a: '10.213.0.0/28' },
    );
    const c = plan(now, observed).changes.find((x) => x.address === 'environment.a')!;
    expect(c.kind).toBe('replace');
    expect(c.reasons.map((r) => r.message)).toContain('network changed: egress → none');
    expect(c.steps).toEqual(['remove-container', 'remove-proxy', 'remove-network', 'create-container', 'start']);
  });

  it('makes a network again, with the container, when it was made without the gateway isolated (the host reachable at .1)', () => {
    const d = desiredOf([env('a', allow('pypi.org'))]);
    const observed = withEgress(
      observedOf([applied(d.environments.get('a')!)]),
      [{ id: 'p1', name: 'ss.demo.a.egress', environment: 'a', state: 'running', allow: ['pypi.org'], image: d.images.get('sandboxshift-egress')!.ref, imageId: 'x' }],
      { a: '10.213.0.0/28' },
    );
    const open = { ...observed, networks: new Map([['a', { ...observed.networks.get('a')!, gatewayIsolated: false }]]) };
    const c = plan(d, open).changes.find((x) => x.address === 'environment.a')!;
    expect(c.kind).toBe('replace');
    expect(c.steps).toEqual(['remove-container', 'remove-proxy', 'remove-network', 'create-network', 'create-proxy', 'create-container', 'start']);
    expect(c.reasons.map((r) => r.message)).toEqual([
      'the container joins its network made again',
      "egress network lets the sandbox reach the host at the network's gateway address: network and proxy made again with the gateway isolated",
    ]);
    expect(plan(d, observed).changes.find((x) => x.address === 'environment.a')!.kind).toBe('no-op');
  });

  it('replaces an environment whose internal network was removed out of band', () => {
    const d = desiredOf([env('a', allow('pypi.org'))]);
    const c = plan(d, { ...observedOf([applied(d.environments.get('a')!)]), outsideNetwork: true }).changes.find((x) => x.address === 'environment.a')!;
    expect(c.kind).toBe('replace');
    expect(c.reasons.map((r) => r.message)).toContain('internal network missing (removed outside sandboxshift)');
    expect(c.steps).toEqual(['remove-container', 'create-network', 'create-proxy', 'create-container', 'start']);
  });
});

describe('allow-list reloads in place', () => {
  const old = desiredOf([env('a', allow('pypi.org', 'files.example'))]);
  const now = desiredOf([env('a', allow('pypi.org'))]);
  const proxyImage = now.images.get('sandboxshift-egress')!.ref;
  const proxy = (over: Partial<ObservedProxy> = {}): ObservedProxy => ({
    id: 'p1',
    name: 'ss.demo.a.egress',
    environment: 'a',
    state: 'running',
    allow: ['pypi.org', 'files.example'],
    image: proxyImage,
    imageId: 'x',
    ...over,
  });
  const planA = (p: ObservedProxy, d = now) => plan(d, withEgress(observedOf([applied(old.environments.get('a')!)]), [p], { a: '10.213.0.0/28' })).changes.find((c) => c.address === 'environment.a')!;

  it('reloads a running proxy instead of recreating it when only the list differs', () => {
    const a = planA(proxy());
    expect(a).toMatchObject({ kind: 'update', dataEffect: 'none', steps: ['reload-egress-policy'] });
    expect(a.reasons).toEqual([{ code: 'egress_narrowed', attribute: 'egress.allow', message: 'egress narrowed: -files.example (policy reloaded in place)' }]);
    const text = renderText(planToJson(plan(now, withEgress(observedOf([applied(old.environments.get('a')!)]), [proxy()], { a: '10.213.0.0/28' }))));
    expect(text).toContain('egress narrowed: -files.example (policy reloaded in place)');
  });

  it('still recreates a proxy that is not running', () => {
    const a = planA(proxy({ state: 'exited' }));
    expect(a.steps).toEqual(['remove-proxy', 'create-proxy']);
    expect(a.reasons.map((r) => r.message)).toEqual(['egress narrowed: -files.example']);
  });

  it('compares against the list the policy record says the proxy enforces, not its label', () => {
    expect(planA(proxy({ recorded: { allow: ['pypi.org'] } }))).toMatchObject({ kind: 'no-op', steps: [] });
    const widened = planA(proxy({ allow: ['pypi.org'], recorded: { allow: ['pypi.org', 'files.example'] } }));
    expect(widened.steps).toEqual(['reload-egress-policy']);
    expect(widened.reasons.map((r) => r.message)).toEqual(['egress narrowed: -files.example (policy reloaded in place)']);
  });

  it('puts what the records say into the observed fingerprint, so a saved plan sees a reload since', () => {
    const at = (p: ObservedProxy) => observedFingerprint(withEgress(observedOf([applied(old.environments.get('a')!)]), [p], { a: '10.213.0.0/28' }), []);
    expect(at(proxy())).toBe(at(proxy({ allow: ['other.test'] })));
    expect(at(proxy({ recorded: { allow: ['pypi.org'] } }))).not.toBe(at(proxy()));
    expect(at(proxy({ recorded: { allow: ['pypi.org'] } }))).not.toBe(at(proxy({ recorded: { unknown: 'pending' } })));
  });

  it('reloads again, saying why, when a reload was left pending (the enforced list is unknown)', () => {
    const unknown = 'a reload of its allow list began and did not finish (an earlier apply was interrupted)';
    // Even when the label happens to equal the desired list: the record says the proxy may not enforce it.
    const a = planA(proxy({ allow: ['pypi.org'], recorded: { unknown } }));
    expect(a.steps).toEqual(['reload-egress-policy']);
    expect(a.reasons).toEqual([
      {
        code: 'egress_proxy',
        attribute: 'egress',
        message: `the allow list egress proxy ss.demo.a.egress enforces is unknown: ${unknown} (policy reloaded in place)`,
      },
    ]);
  });
});

describe('destroy and egress-policy records', () => {
  it('clears the records a proxy removed by hand left behind', () => {
    const d = desiredOf([env('a', allow('pypi.org'))]);
    const p = planDestroy(d, { ...observedOf([]), egressPolicyRecords: new Set(['a']) });
    expect(p.changes.map((c) => [c.address, c.steps])).toEqual([['environment.a', ['remove-proxy']]]);
  });
});

describe('security-relevant changes', () => {
  it('flags a weaker runtime, privilege, a host mount and a new secret on replace', () => {
    const old = desiredOf([env('a', { runtime: 'runsc' })]);
    const now = desiredOf([env('a', { runtime: 'runc', privileged: true, mounts: [{ source: '/srv', target: '/srv', readOnly: true }], secrets: { tok: { fromEnv: 'T' } } })], { T: 'x' });
    const c = plan(now, observedOf([applied(old.environments.get('a')!)])).changes[0]!;
    expect(c.kind).toBe('replace');
    expect(c.security).toEqual(['runtime weakened: runsc → runc (gVisor removed)', 'privileged mode added', 'host path mounted: /srv → /srv (read-only)', 'secret added: tok']);
  });

  it('says nothing for a change that does not weaken anything', () => {
    const old = desiredOf([env('a')]);
    const now = desiredOf([env('a', { env: { X: '1' }, runtime: 'runsc' })]);
    expect(plan(now, observedOf([applied(old.environments.get('a')!)])).changes[0]!.security).toEqual([]);
  });
});

describe('how the host is kept off an environment network', () => {
  it('uses the bridge option inhibit_ipv4 on engines before Docker 28 and the isolated gateway mode from 28 on', () => {
    expect(gatewayIsolationFor({ engineVersion: '20.10.24+dfsg1' })).toBe('inhibit-ipv4');
    expect(gatewayIsolationFor({ engineVersion: '27.5.1' })).toBe('inhibit-ipv4');
    expect(gatewayIsolationFor({ engineVersion: '28.0.0' })).toBe('gateway-mode-isolated');
    expect(gatewayIsolationFor({ engineVersion: '29.1.3' })).toBe('gateway-mode-isolated');
    expect(gatewayIsolationFor({ engineVersion: 'unknown' })).toBe('inhibit-ipv4');
    expect(gatewayIsolationOptions('inhibit-ipv4')).toEqual({ 'com.docker.network.bridge.inhibit_ipv4': 'true' });
    expect(gatewayIsolationOptions('gateway-mode-isolated')).toEqual({ 'com.docker.network.bridge.gateway_mode_ipv4': 'isolated' });
    expect(gatewayIsolationOf({ Options: { 'com.docker.network.bridge.gateway_mode_ipv4': 'isolated' } })).toBe('gateway-mode-isolated');
    expect(gatewayIsolationOf({ Options: { 'com.docker.network.bridge.inhibit_ipv4': 'true' } })).toBe('inhibit-ipv4');
    expect(gatewayIsolationOf({ Options: { 'com.docker.network.bridge.gateway_mode_ipv4': 'nat' } })).toBeNull();
    expect(gatewayIsolationOf({})).toBeNull();
    // Docker always shows a gateway; an internal network without one is not isolated by that alone.
    expect(gatewayIsolationOf({ Internal: true, IPAM: { Config: [{ Gateway: '' }] } })).toBeNull();
  });

  it("plans a new network with the engine's mechanism and says in the plan which one it gets", () => {
    const desired = desiredOf([env('a', allow('pypi.org'))]);
    for (const [version, isolation, words] of [
      ['20.10.24+dfsg1', 'inhibit-ipv4', 'bridge option inhibit_ipv4'],
      ['28.1.0', 'gateway-mode-isolated', 'isolated gateway mode'],
    ] as const) {
      const p = plan(desired, { ...observedOf([]), engineVersion: version });
      const a = p.changes.find((c) => c.address === 'environment.a')!;
      expect(a).toMatchObject({ egress: { gatewayIsolation: isolation } });
      const text = renderText(planToJson(p));
      expect(text).toContain(`enforced:  internal network (no route out), no host address on it (${words}), only way out the proxy at ${a.type === 'environment' ? a.egress?.proxyAddress : ''}:3128`);
    }
  });

  it('keeps the mechanism an existing network was made with, whatever the engine is now', () => {
    const desired = desiredOf([env('a', allow('pypi.org', 'x.org'))]);
    const proxy: ObservedProxy = { id: 'p1', name: 'ss.demo.a.egress', environment: 'a', state: 'running', allow: ['pypi.org'], image: desired.images.get('sandboxshift-egress')!.ref, imageId: 'x' };
    const base = withEgress(observedOf([applied(desiredOf([env('a', allow('pypi.org'))]).environments.get('a')!)]), [proxy], { a: '10.213.0.0/28' });
    const observed = { ...base, engineVersion: '28.0.0', networks: new Map([['a', { ...base.networks.get('a')!, isolation: 'inhibit-ipv4' as const }]]) };
    const a = plan(desired, observed).changes.find((c) => c.address === 'environment.a')!;
    expect(a).toMatchObject({ egress: { gatewayIsolation: 'inhibit-ipv4' } });
    expect(a.steps).not.toContain('create-network');
  });
});

describe('egress on Podman: only with the CNI network backend', () => {
  const podman = (backend?: string) => ({ ...observedOf([]), engineVersion: '4.3.1', engineFlavour: 'podman' as const, ...(backend ? { podmanNetworkBackend: backend } : {}) });
  const egressImage = (desired: ReturnType<typeof desiredOf>) => desired.images.get('sandboxshift-egress')!.ref;

  it('picks cni-no-gateway on Podman with CNI, nothing with netavark or an unknown backend', () => {
    expect(gatewayIsolationFor({ engineVersion: '4.3.1', engineFlavour: 'podman', podmanNetworkBackend: 'cni' })).toBe('cni-no-gateway');
    expect(gatewayIsolationFor({ engineVersion: '4.3.1', engineFlavour: 'podman', podmanNetworkBackend: 'netavark' })).toBeNull();
    expect(gatewayIsolationFor({ engineVersion: '4.3.1', engineFlavour: 'podman' })).toBeNull();
    // Podman ignores Docker's bridge options (it warns "is not a recognized option"): none are sent.
    expect(gatewayIsolationOptions('cni-no-gateway')).toEqual({});
  });

  it('reads the mechanism from the network list as Podman shows it: internal, and `<nil>` as the gateway', () => {
    expect(gatewayIsolationOf({ Internal: true, Options: {}, IPAM: { Config: [{ Gateway: '<nil>' }] } }, 'podman')).toBe('cni-no-gateway');
    // netavark (and CNI for a network that is not internal) give the host the gateway.
    expect(gatewayIsolationOf({ Internal: true, Options: {}, IPAM: { Config: [{ Gateway: '10.213.0.1' }] } }, 'podman')).toBeNull();
    expect(gatewayIsolationOf({ Internal: false, IPAM: { Config: [{ Gateway: '<nil>' }] } }, 'podman')).toBeNull();
    expect(gatewayIsolationOf({ Internal: true, IPAM: { Config: [] } }, 'podman')).toBeNull();
    // Docker's option on a Podman network means nothing there.
    expect(gatewayIsolationOf({ Internal: false, Options: { 'com.docker.network.bridge.inhibit_ipv4': 'true' }, IPAM: { Config: [{ Gateway: '10.88.0.1' }] } }, 'podman')).toBeNull();
  });

  it('plans egress with the CNI mechanism and says so in text, Markdown and JSON', () => {
    const desired = desiredOf([env('a', allow('pypi.org'))]);
    const p = plan(desired, podman('cni'));
    expect(p.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const a = p.changes.find((c) => c.address === 'environment.a')!;
    expect(a).toMatchObject({ egress: { gatewayIsolation: 'cni-no-gateway' } });
    expect(a.steps).toEqual(['create-network', 'create-proxy', 'create-container', 'start']);
    const json = planToJson(p);
    const row = `internal network (no route out), no host address on it (CNI bridge without gateway, IPv6 off in the containers), only way out the proxy at ${a.type === 'environment' ? a.egress?.proxyAddress : ''}:3128`;
    expect(renderText(json)).toContain(`enforced:  ${row}`);
    expect(renderMarkdown(json)).toContain(`**Egress enforced by:** ${row}`);
    expect(json.resource_changes.find((c) => c.address === 'environment.a')).toMatchObject({ egress: { gatewayIsolation: 'cni-no-gateway' } });
  });

  it('refuses egress on Podman with netavark (or a backend it cannot read), with the advice to switch to CNI', () => {
    const desired = desiredOf([env('a', allow('pypi.org')), env('b')]);
    for (const [backend, named] of [
      ['netavark', 'netavark'],
      [undefined, 'unknown'],
    ] as const) {
      const errors = plan(desired, podman(backend)).diagnostics.filter((d) => d.severity === 'error');
      expect(errors.map((d) => d.message)).toEqual([
        `egress is not available on Podman with the ${named} network backend: it gives the host an address on every network, internal ones too, so the sandbox could reach host services past its proxy; wanted by a`,
      ]);
      expect(errors[0]!.hint).toContain('network_backend = "cni"');
    }
    // Without egress, Podman with netavark is fine.
    expect(plan(desiredOf([env('b')]), podman('netavark')).diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('makes a sandbox or proxy made without IPv6 off again (the host bridge keeps an IPv6 link-local address)', () => {
    const desired = desiredOf([env('a', allow('pypi.org'))]);
    const proxy: ObservedProxy = { id: 'p1', name: 'ss.demo.a.egress', environment: 'a', state: 'running', allow: ['pypi.org'], image: egressImage(desired), imageId: 'x', ipv6Off: true };
    const sandbox = (ipv6Off: boolean) => applied(desired.environments.get('a')!, { ipv6Off });
    const on = (c: ReturnType<typeof sandbox>, p: ObservedProxy) => {
      const base = withEgress({ ...observedOf([c]), ...podman('cni'), containers: new Map([['a', c]]) }, [p], { a: '10.213.0.0/28' });
      return { ...base, networks: new Map([['a', { ...base.networks.get('a')!, isolation: 'cni-no-gateway' as const }]]) };
    };
    expect(plan(desired, on(sandbox(true), proxy)).changes.find((c) => c.address === 'environment.a')!.kind).toBe('no-op');
    const replaced = plan(desired, on(sandbox(false), proxy)).changes.find((c) => c.address === 'environment.a')!;
    expect(replaced.kind).toBe('replace');
    expect(replaced.reasons.map((r) => r.message)).toContain(
      "sandbox made without IPv6 off (no io.sandboxshift.ipv6=off label): it could reach the host over the bridge's IPv6 link-local address; made again with IPv6 off",
    );
    const proxyAgain = plan(desired, on(sandbox(true), { ...proxy, ipv6Off: false })).changes.find((c) => c.address === 'environment.a')!;
    expect(proxyAgain.steps).toEqual(['remove-proxy', 'create-proxy']);
    expect(proxyAgain.reasons.map((r) => r.message)).toEqual(['egress proxy made without IPv6 off (no io.sandboxshift.ipv6=off label): made again with IPv6 off']);
  });

  it('plans a Podman network that gives the host an address again, with its proxy and container', () => {
    const desired = desiredOf([env('a', allow('pypi.org'))]);
    const c = applied(desired.environments.get('a')!, { ipv6Off: true });
    const proxy: ObservedProxy = { id: 'p1', name: 'ss.demo.a.egress', environment: 'a', state: 'running', allow: ['pypi.org'], image: egressImage(desired), imageId: 'x', ipv6Off: true };
    const base = withEgress({ ...observedOf([c]), ...podman('cni'), containers: new Map([['a', c]]) }, [proxy], { a: '10.213.0.0/28' });
    const open = { ...base, networks: new Map([['a', { ...base.networks.get('a')!, gatewayIsolated: false }]]) };
    const a = plan(desired, open).changes.find((ch) => ch.address === 'environment.a')!;
    expect(a.kind).toBe('replace');
    expect(a).toMatchObject({ egress: { gatewayIsolation: 'cni-no-gateway' } });
    expect(a.steps).toEqual(['remove-container', 'remove-proxy', 'remove-network', 'create-network', 'create-proxy', 'create-container', 'start']);
  });
});
