// The engine as applying a config would leave it, with no engine: what `diff` plans against,
// so a diff between two commits shows exactly the actions apply would take from one to the other.
import type { DesiredState } from '../model/desired.js';
import { sha256 } from '../model/hash.js';
import { networkName, proxyName } from '../model/names.js';
import type { ObservedContainer, ObservedImage, ObservedNetwork, ObservedProxy, ObservedState } from '../model/observed.js';
import { EGRESS_IMAGE } from '../model/images.js';
import { allocateSubnets } from './egress.js';

/** What the engine is assumed to offer beyond what the config used: a diff does not check the engine. */
export interface EngineAssumptions {
  /** Image refs taken to be on the engine (e.g. the refs the other config names). */
  images?: readonly string[];
  /** Runtimes taken to be offered. */
  runtimes?: readonly string[];
}

/** The engine label for an image nobody has inspected: stable per ref, so equal refs mean equal images. */
export function assumedImageId(ref: string): string {
  return `sha256:${sha256(`assumed:${ref}`)}`;
}

export function emptyObserved(project: string): ObservedState {
  return {
    project,
    containers: new Map(),
    duplicates: [],
    volumes: new Map(),
    foreignVolumes: new Map(),
    filling: new Set(),
    protectRecords: new Map(),
    images: new Map(),
    networks: new Map(),
    outsideNetwork: false,
    usedSubnets: [],
    proxies: new Map(),
    runtimes: [],
    engineVersion: 'none',
  };
}

/**
 * Every environment running with its spec and resources labels, its volume present, every
 * image present (built ones labelled with their context files), and for allow lists the
 * network and a running proxy enforcing exactly that list.
 */
export function observedFromDesired(desired: DesiredState, assume: EngineAssumptions = {}): ObservedState {
  const images = new Map<string, ObservedImage>();
  const addImage = (ref: string, build: ObservedImage['build']) => {
    if (images.has(ref)) return;
    const seen: ObservedImage = { id: assumedImageId(ref), contract: '1', build, created: 0, tags: [ref] };
    images.set(ref, seen);
    images.set(seen.id, seen);
  };
  for (const image of desired.images.values()) {
    addImage(image.ref, image.build ? { project: desired.project, image: image.name, contextFiles: { ...image.build.digest.files } } : null);
  }
  for (const ref of assume.images ?? []) addImage(ref, null);

  const containers = new Map<string, ObservedContainer>();
  for (const d of desired.environments.values()) {
    containers.set(d.name, {
      // Docker accepts a container's name wherever it takes an id; there is no real id to give.
      id: d.containerName,
      name: d.containerName,
      environment: d.name,
      state: 'running',
      status: 'Up (as applied)',
      imageId: assumedImageId(d.spec.image),
      image: d.spec.image,
      configHash: d.configHash,
      spec: structuredClone(d.spec),
      resources: { ...d.resources },
      resourcesFrom: 'label',
      protect: d.protect,
      // Applying leaves exactly the spec: nothing to check against.
      isolation: null,
      inspected: null,
    });
  }

  const base = emptyObserved(desired.project);
  const subnets = allocateSubnets(desired, base);
  const networks = new Map<string, ObservedNetwork>();
  const proxies = new Map<string, ObservedProxy>();
  const proxyImage = desired.images.get(EGRESS_IMAGE)?.ref ?? '';
  if (typeof subnets !== 'string') {
    for (const d of desired.environments.values()) {
      const subnet = subnets.get(d.name);
      if (d.egress.mode !== 'allow' || !subnet) continue;
      const network = networkName(desired.project, d.name);
      networks.set(d.name, { id: network, name: network, subnets: [subnet], gatewayIsolated: true });
      const proxy = proxyName(desired.project, d.name);
      proxies.set(d.name, {
        id: proxy,
        name: proxy,
        environment: d.name,
        state: 'running',
        allow: [...d.egress.allow],
        image: proxyImage,
        imageId: assumedImageId(proxyImage),
      });
    }
  }

  const runtimes = new Set<string>(['runc', ...(assume.runtimes ?? [])]);
  for (const d of desired.environments.values()) runtimes.add(d.spec.runtime);
  return {
    ...base,
    containers,
    volumes: new Map([...desired.environments.values()].map((d) => [d.name, { name: d.volumeName, environment: d.name, protect: d.protect, movedFrom: null }])),
    dataVolumes: new Map([...desired.environments.values()].map((d) => [d.name, d.volumes.map((v) => ({ name: v.volumeName, environment: d.name, volume: v.name, protect: d.protect }))])),
    images,
    networks,
    outsideNetwork: networks.size > 0,
    usedSubnets: [...networks.values()].flatMap((n) => n.subnets),
    proxies,
    runtimes: [...runtimes].sort(),
  };
}
