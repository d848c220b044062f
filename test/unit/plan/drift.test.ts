// Security drift: the pure comparison of what the engine shows with the labelled spec.
import { describe, expect, it } from 'vitest';
import type { DesiredEnvironment } from '../../../src/model/desired.js';
import type { InspectedSecurity, ListedIsolation } from '../../../src/model/isolation.js';
import { plan } from '../../../src/plan/index.js';
import { securityDrift } from '../../../src/plan/drift.js';
import { planToJson, renderText } from '../../../src/render/index.js';
import { applied, desiredOf, env, observedOf } from './fixtures.js';

/** What the list call shows for a container engine/container-spec.ts created. */
function listedFor(d: DesiredEnvironment): ListedIsolation {
  return {
    networkMode: 'none',
    networks: ['none'],
    mounts: [
      { type: 'volume', name: d.volumeName, source: `/var/lib/docker/volumes/${d.volumeName}/_data`, target: '/workspace', readOnly: false },
      ...d.spec.mounts.map((m) => ({ type: 'bind', name: null, source: m.source, target: m.target, readOnly: m.readOnly })),
    ],
  };
}

const hardened: InspectedSecurity = {
  user: '65532:65532',
  privileged: false,
  capAdd: [],
  capDrop: ['ALL'],
  securityOpt: ['no-new-privileges:true'],
  runtime: 'runc',
  pidsLimit: 256,
};

const agent = () => desiredOf([env('agent', { mounts: [{ source: '/srv/data', target: '/data', readOnly: true }] })]).environments.get('agent')!;

describe('security drift', () => {
  it('finds nothing on a container as sandboxshift creates it (an image VOLUME is no drift)', () => {
    const d = agent();
    const listed = listedFor(d);
    const anonymous = { type: 'volume', name: 'ab'.repeat(32), source: '/var/lib/docker/volumes/x/_data', target: '/cache', readOnly: false };
    const c = applied(d, { isolation: { ...listed, mounts: [...listed.mounts, anonymous] }, inspected: hardened });
    expect(securityDrift('demo', c, true)).toEqual({ reasons: [], security: [] });
    expect(plan(desiredOf([env('agent', { mounts: [{ source: '/srv/data', target: '/data', readOnly: true }] })]), observedOf([c])).changes[0]!.kind).toBe('no-op');
  });

  it('names network and mount drift from the list call alone', () => {
    const d = agent();
    const c = applied(d, {
      isolation: {
        networkMode: 'bridge',
        networks: ['bridge'],
        mounts: [
          { type: 'bind', name: null, source: '/tmp/x', target: '/host', readOnly: false },
          { type: 'bind', name: null, source: '/srv/data', target: '/data', readOnly: false },
        ],
      },
    });
    expect(securityDrift('demo', c, true).reasons.map((r) => [r.code, r.attribute, r.message])).toEqual([
      ['changed_outside', 'network', 'changed outside sandboxshift: network is bridge (config: none)'],
      ['changed_outside', 'network', 'changed outside sandboxshift: also attached to bridge (config: none only)'],
      ['changed_outside', 'mounts', 'changed outside sandboxshift: nothing mounted at /workspace (config: volume ss.demo.agent.workspace)'],
      ['changed_outside', 'mounts', 'changed outside sandboxshift: /data is read-write (config: read-only)'],
      ['changed_outside', 'mounts', 'changed outside sandboxshift: host path /tmp/x mounted at /host (config: not mounted)'],
    ]);
  });

  it('names user, capabilities, security options, runtime and pids from an inspect', () => {
    const d = agent();
    const c = applied(d, {
      isolation: listedFor(d),
      inspected: { user: '0', privileged: true, capAdd: ['ALL'], capDrop: [], securityOpt: ['seccomp=unconfined'], runtime: 'runsc', pidsLimit: -1 },
    });
    expect(securityDrift('demo', c, true).reasons.map((r) => r.message)).toEqual([
      'changed outside sandboxshift: user is 0 (config: 65532:65532)',
      'changed outside sandboxshift: privileged is true (config: false)',
      'changed outside sandboxshift: runtime is runsc (config: runc)',
      'changed outside sandboxshift: capabilities added: ALL (config: none added)',
      'changed outside sandboxshift: capabilities dropped: none (config: ALL dropped)',
      'changed outside sandboxshift: no-new-privileges is off (config: on)',
      'changed outside sandboxshift: security options added: seccomp=unconfined (config: no-new-privileges only)',
      'changed outside sandboxshift: pids limit removed (config: limited)',
    ]);
  });

  it('checks the image name, but leaves a moved tag (shown as an ID) to the image check', () => {
    const d = agent();
    expect(securityDrift('demo', applied(d, { image: 'ubuntu' }), true).reasons.map((r) => r.message)).toEqual(['changed outside sandboxshift: image is ubuntu (config: sandboxshift/busybox:test)']);
    expect(securityDrift('demo', applied(d, { image: 'sha256:'.concat('c'.repeat(64)) }), true).reasons).toEqual([]);
    expect(securityDrift('demo', applied(d, { image: 'docker.io/sandboxshift/busybox:test' }), true).reasons).toEqual([]);
  });

  it("reads REPO:TAG@DIGEST as the digest alone (Podman shows the container's image without the tag)", () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const d = agent();
    const pinned = { ...d, spec: { ...d.spec, image: `127.0.0.1:5000/app:v1@${digest}` } };
    expect(securityDrift('demo', applied(pinned, { image: `127.0.0.1:5000/app@${digest}` }), true).reasons).toEqual([]);
    expect(securityDrift('demo', applied(pinned, { image: `127.0.0.1:5000/app:v1@${digest}` }), true).reasons).toEqual([]);
    expect(securityDrift('demo', applied(pinned, { image: `127.0.0.1:5000/app@sha256:${'f'.repeat(64)}` }), true).reasons.map((r) => r.message)).toEqual([
      `changed outside sandboxshift: image is 127.0.0.1:5000/app@sha256:${'f'.repeat(64)} (config: 127.0.0.1:5000/app:v1@${digest})`,
    ]);
  });

  it('expects an egress environment on its own network, and says "created as" when the config changed too', () => {
    const d = desiredOf([env('web', { egress: { mode: 'allow', allow: ['pypi.org'] } })]).environments.get('web')!;
    const ok = { ...listedFor(d), networkMode: 'ss.demo.web.net', networks: ['ss.demo.web.net'] };
    expect(securityDrift('demo', applied(d, { isolation: ok }), true).reasons).toEqual([]);
    const moved = securityDrift('demo', applied(d, { isolation: { ...ok, networkMode: 'host', networks: ['host'] } }), false);
    expect(moved.reasons.map((r) => r.message)).toEqual([
      'changed outside sandboxshift: network is host (created as: ss.demo.web.net)',
      'changed outside sandboxshift: also attached to host (created as: ss.demo.web.net only)',
    ]);
  });

  it('sees an environment disconnected from its network (docker network disconnect)', () => {
    const d = desiredOf([env('web', { egress: { mode: 'allow', allow: ['pypi.org'] } })]).environments.get('web')!;
    const cut = { ...listedFor(d), networkMode: 'ss.demo.web.net', networks: [] };
    expect(securityDrift('demo', applied(d, { isolation: cut }), true).reasons.map((r) => r.message)).toEqual([
      'changed outside sandboxshift: disconnected from ss.demo.web.net (config: ss.demo.web.net)',
    ]);
  });

  it('plans a replace with the drift first among the security notes', () => {
    const desired = desiredOf([env('agent')]);
    const d = desired.environments.get('agent')!;
    const c = applied(d, { isolation: { ...listedFor(d), networkMode: 'bridge', networks: ['bridge'] }, inspected: { ...hardened, user: '0' } });
    const p = plan(desired, observedOf([c]));
    const change = p.changes[0]!;
    expect([change.kind, change.dataEffect, change.steps]).toEqual(['replace', 'recreate', ['remove-container', 'create-container', 'start']]);
    expect(change.security).toEqual(['hardening changed outside sandboxshift (network, user); apply recreates it as configured']);
    expect(renderText(planToJson(p))).toContain(`-/+ environment.agent must be replaced
      ! security: hardening changed outside sandboxshift (network, user); apply recreates it as configured
      because:   changed outside sandboxshift: network is bridge (config: none)
                 changed outside sandboxshift: also attached to bridge (config: none only)
                 changed outside sandboxshift: user is 0 (config: 65532:65532)
`);
  });
});

describe('the sandbox address on an egress network', () => {
  const desired = desiredOf([env('web', { egress: { mode: 'allow', allow: ['pypi.org'] } })]);
  const d = desired.environments.get('web')!;
  const on = (address: string, fixed: string | null): ListedIsolation => ({
    ...listedFor(d),
    networkMode: 'ss.demo.web.net',
    networks: ['ss.demo.web.net'],
    addresses: { 'ss.demo.web.net': { address, fixed } },
  });
  const messages = (isolation: ListedIsolation, subnet?: string) => securityDrift('demo', applied(d, { isolation }), true, subnet).reasons.map((r) => [r.code, r.attribute, r.message]);

  it('is no drift at the fixed .3 of its subnet, running or stopped', () => {
    expect(securityDrift('demo', applied(d, { isolation: on('10.213.0.19', '10.213.0.19') }), true, '10.213.0.16/28')).toEqual({ reasons: [], security: [] });
    expect(messages(on('', '10.213.0.19'))).toEqual([]);
  });

  it('is drift when dynamic (made before the fixed address) or fixed elsewhere, naming the address', () => {
    expect(messages(on('10.213.0.18', null), '10.213.0.16/28')).toEqual([
      [
        'egress_proxy',
        'egress.address',
        "sandbox address on ss.demo.web.net is dynamic (now 10.213.0.18): an engine restart could give it the proxy's address; made again with the fixed address 10.213.0.19",
      ],
    ]);
    // Even when the engine happened to hand out .3: it is not fixed, so a restart may move it.
    expect(messages(on('10.213.0.19', null), '10.213.0.16/28').map((m) => m[2])).toEqual([
      "sandbox address on ss.demo.web.net is dynamic (now 10.213.0.19): an engine restart could give it the proxy's address; made again with the fixed address 10.213.0.19",
    ]);
    expect(messages(on('10.213.0.21', '10.213.0.21')).map((m) => m[2])).toEqual([
      'sandbox address on ss.demo.web.net is fixed at 10.213.0.21, not 10.213.0.19 (the .3 of its subnet; the proxy has the .2): made again at 10.213.0.19',
    ]);
    // Stopped, network unknown: no address to name, but it is not fixed.
    expect(messages(on('', null)).map((m) => m[2])).toEqual([
      "sandbox address on ss.demo.web.net is dynamic (now none: stopped): an engine restart could give it the proxy's address; made again with the fixed address the .3 of its subnet",
    ]);
  });

  it('plans the replace (new container, /workspace kept) and, once fixed, nothing', () => {
    const proxyImage = desired.images.get('sandboxshift-egress')!.ref;
    const observedWith = (isolation: ListedIsolation) => ({
      ...observedOf([applied(d, { isolation })]),
      outsideNetwork: true,
      networks: new Map([['web', { id: 'net-web', name: 'ss.demo.web.net', subnets: ['10.213.0.16/28'], gatewayIsolated: true }]]),
      usedSubnets: ['10.213.0.16/28'],
      proxies: new Map([['web', { id: 'p', name: 'ss.demo.web.egress', environment: 'web', state: 'running' as const, allow: ['pypi.org'], image: proxyImage, imageId: 'sha256:2' }]]),
      images: new Map([...observedOf([]).images, [proxyImage, { id: 'sha256:2', contract: null, build: null, created: 0, tags: [proxyImage] }]]),
    });
    const change = plan(desired, observedWith(on('10.213.0.18', null))).changes.find((c) => c.address === 'environment.web')!;
    if (change.type !== 'environment') throw new Error('expected the environment change');
    expect([change.kind, change.dataEffect, change.workspace, change.steps]).toEqual(['replace', 'recreate', 'keep', ['remove-container', 'create-container', 'start']]);
    expect(change.reasons.map((r) => r.message)).toEqual([
      "sandbox address on ss.demo.web.net is dynamic (now 10.213.0.18): an engine restart could give it the proxy's address; made again with the fixed address 10.213.0.19",
    ]);
    expect(change.security).toEqual([]);
    expect(plan(desired, observedWith(on('10.213.0.19', '10.213.0.19'))).changes.find((c) => c.address === 'environment.web')!.kind).toBe('no-op');
  });
});
