// Podman's Docker-compatible API shows some facts differently from Docker; here they are read
// back into Docker's terms, so the planner (pure, engine-agnostic) sees one shape. README
// "Podman" lists each difference.
import type Docker from 'dockerode';
import type { InspectedSecurity, ListedIsolation } from '../model/isolation.js';
import type { DesiredState } from '../model/desired.js';
import type { ObservedContainer, ObservedState } from '../model/observed.js';
import { statusCode, type Engine } from './client.js';
import { podmanShortNames } from './flavour.js';
import { inspectedSecurity, listedIsolation } from './isolation-facts.js';

/** What Podman's own inspect (libpod API) adds: the capabilities a process really has, the runtime's name. */
export interface PodmanInspect {
  EffectiveCaps?: string[] | null;
  BoundingCaps?: string[] | null;
  OCIRuntime?: string;
}

/**
 * Podman's container list has no HostConfig (so no network mode) and no networks for a
 * container with none: every environment's network and mounts come from an inspect instead,
 * and its image by the short name the config used (Podman lists `localhost/NAME`).
 */
export async function withPodmanFacts(engine: Engine, observed: ObservedState): Promise<ObservedState> {
  const shortOf = new Map(podmanShortNames([...observed.images.keys()]).map(([short, tag]) => [tag, short]));
  const fix = async (c: ObservedContainer): Promise<ObservedContainer> => {
    const image = c.spec && shortOf.get(c.image) === c.spec.image ? c.spec.image : c.image;
    try {
      const info = await engine.reader.inspectContainer(c.id);
      return { ...c, image, isolation: inspectedIsolation(info) };
    } catch (err) {
      // Removed since the list call: planned as listed.
      if (statusCode(err) === 404) return { ...c, image };
      throw err;
    }
  };
  const all = [...observed.containers.values(), ...observed.duplicates];
  // Proxies are listed by the full name too (`docker.io/...`): planned against the short one.
  const proxies = new Map([...observed.proxies].map(([env, p]) => [env, { ...p, image: shortOf.get(p.image) ?? p.image }]));
  const fixed = await boundedMap(all, IN_FLIGHT, fix);
  const containers = new Map([...observed.containers.keys()].map((env, i) => [env, fixed[i]!] as const));
  return { ...observed, containers, proxies, duplicates: fixed.slice(observed.containers.size) };
}

/**
 * Podman's network backend decides whether egress can be kept (model/egress.ts). Its own info
 * call is about as slow as `info` (0.5 s and more on this machine), so it is asked only when
 * the config has an allow list.
 */
export async function withPodmanBackend(engine: Engine, desired: DesiredState, observed: ObservedState): Promise<ObservedState> {
  if (observed.engineFlavour !== 'podman' || observed.podmanNetworkBackend !== undefined) return observed;
  if (![...desired.environments.values()].some((d) => d.egress.mode === 'allow')) return observed;
  const backend = (await engine.reader.podmanInfo()).host?.networkBackend;
  return backend ? { ...observed, podmanNetworkBackend: backend } : observed;
}

/** Inspects at once at most: the Podman service answers each in turn anyway. */
const IN_FLIGHT = 16;

async function boundedMap<T, U>(items: readonly T[], limit: number, fn: (item: T) => Promise<U>): Promise<U[]> {
  const out: U[] = new Array<U>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A Podman container's network mode in Docker's terms (see inspectedIsolation). */
export function podmanNetworkMode(info: Pick<Docker.ContainerInspectInfo, 'HostConfig' | 'NetworkSettings'>): string {
  const listed = info.HostConfig?.NetworkMode ?? '';
  const names = Object.keys(info.NetworkSettings?.Networks ?? {});
  return listed === 'bridge' && names.length === 1 && !['podman', 'bridge'].includes(names[0]!) ? names[0]! : listed;
}

/**
 * The list call's isolation facts, from an inspect (Podman's list lacks them). Podman shows a
 * container on one named network with the mode `bridge`: Docker shows that network's name (the
 * default network, `podman`, stays `bridge`, as Docker's). It shows no IPAMConfig, so whether an
 * address is fixed is unknown.
 */
export function inspectedIsolation(info: Docker.ContainerInspectInfo): ListedIsolation {
  const networks = info.NetworkSettings?.Networks ?? {};
  const names = Object.keys(networks);
  const mode = podmanNetworkMode(info);
  // Docker lists a container without a network as on the network "none" (or "host"); Podman lists none.
  const shown = names.length === 0 && (mode === 'none' || mode === 'host') ? { [mode]: {} } : networks;
  const listed = listedIsolation({
    HostConfig: { NetworkMode: mode },
    NetworkSettings: { Networks: shown },
    Mounts: info.Mounts ?? [],
  } as unknown as Docker.ContainerInfo);
  const addresses = Object.fromEntries(Object.entries(listed.addresses ?? {}).map(([n, a]) => [n, a.fixed === null ? { ...a, fixedUnknown: true as const } : a]));
  return { ...listed, addresses };
}

/**
 * Podman's compatible inspect lists each dropped default capability instead of ALL and names
 * the runtime "oci"; its own inspect says which capabilities remain and which runtime runs it.
 */
export function podmanSecurity(info: Docker.ContainerInspectInfo, own: PodmanInspect): InspectedSecurity {
  const base = inspectedSecurity(info);
  const none = (own.EffectiveCaps ?? []).length === 0 && (own.BoundingCaps ?? []).length === 0;
  return { ...base, capDrop: none ? ['ALL'] : base.capDrop, runtime: own.OCIRuntime || base.runtime };
}
