// Podman differences read back into Docker's terms (src/engine/flavour.ts, podman-facts.ts).
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { flavourOf, podmanShortNames } from '../../../src/engine/flavour.js';
import { buildObserved } from '../../../src/engine/observe.js';
import { inspectedIsolation, podmanSecurity, withPodmanBackend } from '../../../src/engine/podman-facts.js';
import type { Engine } from '../../../src/engine/client.js';
import { desiredOf, env, observedOf } from '../plan/fixtures.js';
import { podmanEventFilters, podmanEventInDockerTerms } from '../../../src/engine/podman-events.js';
import { statusCode } from '../../../src/engine/client.js';

const image = (id: string, tags: string[]): Docker.ImageInfo => ({ Id: id, RepoTags: tags, Labels: {}, Created: 1 }) as unknown as Docker.ImageInfo;

describe('engine flavour', () => {
  it('is Podman only when the version endpoint names the Podman Engine component', () => {
    expect(flavourOf({ Components: [{ Name: 'Podman Engine' }, { Name: 'Conmon' }] })).toBe('podman');
    expect(flavourOf({ Components: [{ Name: 'Engine' }, { Name: 'containerd' }] })).toBe('docker');
    expect(flavourOf({})).toBe('docker');
    expect(flavourOf({ Components: null })).toBe('docker');
  });
});

describe('Podman image names', () => {
  it('knows localhost/ and docker.io/ images by the short names configs use; docker.io wins a tie', () => {
    expect(new Map(podmanShortNames(['localhost/sandboxshift/busybox:test', 'docker.io/library/debian:bookworm-slim', 'docker.io/sandboxshift/lock:1']))).toEqual(
      new Map([
        ['debian:bookworm-slim', 'docker.io/library/debian:bookworm-slim'],
        ['sandboxshift/lock:1', 'docker.io/sandboxshift/lock:1'],
        ['sandboxshift/busybox:test', 'localhost/sandboxshift/busybox:test'],
      ]),
    );
    expect(new Map(podmanShortNames(['localhost/a/b:1', 'docker.io/a/b:1'])).get('a/b:1')).toBe('docker.io/a/b:1');
    expect(podmanShortNames(['quay.io/x/y:1', 'registry.local:5000/z:2'])).toEqual([]);
  });

  it('adds short names only for Podman: on Docker a localhost/ tag is a registry at localhost', () => {
    const images = [image('sha256:1', ['localhost/sandboxshift/busybox:test'])];
    expect(buildObserved('demo', [], [], images, {}, [], 'podman').images.get('sandboxshift/busybox:test')?.id).toBe('sha256:1');
    expect(buildObserved('demo', [], [], images, {}, [], 'docker').images.has('sandboxshift/busybox:test')).toBe(false);
  });

  it('sees a Podman environment network as isolated when it is internal with no gateway (CNI), and open with one (netavark)', () => {
    const labels = { 'io.sandboxshift.project': 'demo', 'io.sandboxshift.environment': 'web', 'io.sandboxshift.role': 'network' };
    // As Podman 4.3's compatible list shows them (Options empty: Docker's bridge options are ignored).
    const net = (gateway: string) =>
      ({
        Name: 'ss.demo.web.net',
        Id: 'n1',
        Internal: true,
        Options: {},
        Labels: labels,
        IPAM: { Driver: 'default', Config: [{ Subnet: '10.213.0.0/28', Gateway: gateway }] },
      }) as unknown as Docker.NetworkInspectInfo;
    expect(buildObserved('demo', [], [], [], {}, [net('<nil>')], 'podman').networks.get('web')).toEqual({
      id: 'n1',
      name: 'ss.demo.web.net',
      subnets: ['10.213.0.0/28'],
      gatewayIsolated: true,
      isolation: 'cni-no-gateway',
    });
    expect(buildObserved('demo', [], [], [], {}, [net('10.213.0.1')], 'podman').networks.get('web')).toMatchObject({ gatewayIsolated: false });
    // On Docker the same network has neither option: the host has .1 on it.
    expect(buildObserved('demo', [], [], [], {}, [net('<nil>')], 'docker').networks.get('web')).toMatchObject({ gatewayIsolated: false });
  });
});

describe('Podman inspect in Docker terms', () => {
  const info = {
    Config: { User: '65532:65532' },
    HostConfig: { NetworkMode: 'none', CapDrop: ['CHOWN', 'SETUID'], CapAdd: [], SecurityOpt: ['no-new-privileges'], Runtime: 'oci', PidsLimit: 32, Privileged: false },
    NetworkSettings: { Networks: {} },
    Mounts: [{ Type: 'volume', Name: 'ss.demo.web.workspace', Source: '/x', Destination: '/workspace', RW: true }],
  } as unknown as Docker.ContainerInspectInfo;

  it('reads ALL dropped from the capabilities left (none), and the runtime by name', () => {
    expect(podmanSecurity(info, { EffectiveCaps: null, BoundingCaps: null, OCIRuntime: 'runc' })).toMatchObject({ capDrop: ['ALL'], runtime: 'runc' });
  });

  it('keeps the listed drops when a capability remains, so the planner sees the drift', () => {
    expect(podmanSecurity(info, { EffectiveCaps: ['CAP_NET_RAW'], BoundingCaps: ['CAP_NET_RAW'], OCIRuntime: 'runc' }).capDrop).toEqual(['CHOWN', 'SETUID']);
  });

  it('shows a container without a network on the network "none", as Docker lists it', () => {
    expect(inspectedIsolation(info)).toMatchObject({ networkMode: 'none', networks: ['none'], mounts: [{ type: 'volume', name: 'ss.demo.web.workspace', target: '/workspace', readOnly: false }] });
  });
});

describe("Podman's network backend", () => {
  const engine = (asked: string[]): Engine =>
    ({
      reader: {
        podmanInfo: () => {
          asked.push('info');
          return Promise.resolve({ host: { networkBackend: 'cni' } });
        },
      },
    }) as unknown as Engine;
  const podman = { ...observedOf([]), engineFlavour: 'podman' as const };
  const egress = desiredOf([env('a', { egress: { mode: 'allow' as const, allow: ['pypi.org'] } })]);

  it('is asked of Podman only when the config has an allow list (its info call is slow)', async () => {
    const asked: string[] = [];
    expect((await withPodmanBackend(engine(asked), egress, podman)).podmanNetworkBackend).toBe('cni');
    expect(asked).toEqual(['info']);
    expect((await withPodmanBackend(engine(asked), desiredOf([env('a')]), podman)).podmanNetworkBackend).toBeUndefined();
    expect((await withPodmanBackend(engine(asked), egress, observedOf([]))).podmanNetworkBackend).toBeUndefined();
    expect(asked).toEqual(['info']);
  });
});

describe('Podman events in Docker terms', () => {
  it("asks for Podman's own event names: died, remove, exec", () => {
    expect(podmanEventFilters({ type: ['container'], event: ['exec_create', 'exec_start', 'attach'], label: ['a=b'] })).toEqual({ type: ['container'], event: ['exec', 'attach'], label: ['a=b'] });
    expect(podmanEventFilters({ event: ['die', 'destroy', 'kill'] })).toEqual({ event: ['died', 'remove', 'kill'] });
    expect(podmanEventFilters({ type: ['volume'] })).toEqual({ type: ['volume'] });
  });

  it("reads an exec as Docker's exec_start, keeping the time and labels", () => {
    const exec = { Type: 'container', Action: 'exec', timeNano: 5, Actor: { ID: 'c1', Attributes: { 'io.sandboxshift.environment': 'a' } } };
    expect(podmanEventInDockerTerms(exec)).toEqual({ ...exec, Action: 'exec_start' });
  });

  it('leaves Docker-shaped events and other lines alone', () => {
    const kill = { Type: 'container', Action: 'kill', Actor: { ID: 'c1', Attributes: { signal: '15' } } };
    expect(podmanEventInDockerTerms(kill)).toEqual(kill);
    expect(podmanEventInDockerTerms('text')).toBe('text');
  });
});

describe("Podman's 500s in Docker's status codes", () => {
  it('reads a name already in use as 409 and a container gone meanwhile as 404, by the cause; any other 500 stays', () => {
    expect(statusCode({ statusCode: 500, json: { cause: 'that name is already in use', message: 'container create: ...' } })).toBe(409);
    expect(statusCode({ statusCode: 500, json: { cause: 'no such container', message: 'container 2882 does not exist in database: no such container' } })).toBe(404);
    expect(statusCode({ statusCode: 500, json: { cause: 'no space left on device' } })).toBe(500);
    expect(statusCode({ statusCode: 409 })).toBe(409);
    expect(statusCode({ statusCode: 404, json: { cause: 'no such container' } })).toBe(404);
    expect(statusCode(new Error('socket hang up'))).toBeUndefined();
  });
});
