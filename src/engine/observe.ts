// observe(): one label-filtered list call per resource kind, plus `info` for the runtimes.
// No per-container inspect on the common path: only renamed containers and idle-stopped ones cost one.
import type Docker from 'dockerode';
import type { EnvironmentSpec, ResourcesSpec } from '../model/desired.js';
import type { ContainerState, ForeignVolume, ObservedContainer, ObservedDataVolume, ObservedImage, ObservedNetwork, ObservedProxy, ObservedState, ObservedVolume } from '../model/observed.js';
import { statusCode, withEngine, type Engine } from './client.js';
import { RUNSC_PIDS_HEADROOM } from './container-spec.js';
import { Labels, projectFilter } from './labels.js';
import { copyingMarks } from './copying-record.js';
import { activityRecordEnvironments, idleMarks, startedSinceMarked, touchTimes } from './idle-record.js';
import { listedIsolation, protectRecords } from './isolation-facts.js';
import { containerName, outsideNetworkName } from '../model/names.js';
import { gatewayIsolationOf } from '../model/egress.js';
import { withRecordedPolicies } from './egress-policy.js';
import { withPodmanFacts } from './podman-facts.js';
import { flavourOf, podmanShortNames, type EngineFlavour } from './flavour.js';

export async function observe(engine: Engine, project: string): Promise<ObservedState> {
  return withEngine(async () => {
    const [containers, volumes, images, info, networks, version] = await Promise.all([
      engine.reader.listContainers(projectFilter(project)),
      // By name, not label: a volume named like a workspace that we did not label is found too.
      engine.reader.listVolumes({ name: [`ss.${project}.`] }),
      engine.reader.listImages(),
      engine.reader.info(),
      engine.reader.listNetworks(),
      engine.reader.version(),
    ]);
    const flavour = flavourOf(version);
    const listed = buildObserved(project, containers, volumes, images, info, networks, flavour);
    const observed = flavour === 'podman' ? await withPodmanFacts(engine, listed) : listed;
    return withNameHolders(engine, await withoutLapsedIdleMarks(engine, observed, containers));
  });
}

/**
 * A container renamed outside sandboxshift is planned back to its name, unless another
 * container took that name since: ask the engine who holds it. Only renamed containers cost a
 * call, so the common path makes none.
 */
async function withNameHolders(engine: Engine, observed: ObservedState): Promise<ObservedState> {
  const renamed = [...observed.containers.values()].filter((c) => c.name !== containerName(observed.project, c.environment));
  if (renamed.length === 0) return observed;
  const holders = new Map<string, string>();
  await Promise.all(
    renamed.map(async (c) => {
      const expected = containerName(observed.project, c.environment);
      try {
        const holder = await engine.reader.inspectContainer(expected);
        holders.set(expected, holder.Id);
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
      }
    }),
  );
  return { ...observed, nameHolders: holders };
}

/**
 * An idle record holds only while its container stays as the policy left it; the list cannot
 * tell a container started by hand and stopped (or crashed) since, so ask the engine when each
 * marked container last started. Only idle-stopped environments cost a call.
 */
async function withoutLapsedIdleMarks(engine: Engine, observed: ObservedState, containers: readonly Docker.ContainerInfo[]): Promise<ObservedState> {
  const marks = observed.idle;
  if (!marks || marks.size === 0) return observed;
  const startedAt = new Map<string, number>();
  await Promise.all(
    [...marks.values()].map(async (m) => {
      try {
        const started = Date.parse((await engine.reader.inspectContainer(m.containerId)).State.StartedAt);
        if (Number.isFinite(started)) startedAt.set(m.containerId, started);
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
      }
    }),
  );
  const lapsed = startedSinceMarked(containers, marks, startedAt);
  if (lapsed.size === 0) return observed;
  return { ...observed, idle: new Map([...marks].filter(([env]) => !lapsed.has(env))) };
}

export function buildObserved(
  project: string,
  containers: Docker.ContainerInfo[],
  volumes: Docker.VolumeInspectInfo[],
  images: Docker.ImageInfo[],
  info: { Runtimes?: Record<string, unknown>; ServerVersion?: string; NCPU?: number; MemTotal?: number },
  networks: Docker.NetworkInspectInfo[] = [],
  flavour: EngineFlavour = 'docker',
): ObservedState {
  const byEnv = new Map<string, ObservedContainer>();
  const duplicates: ObservedContainer[] = [];
  const proxies = new Map<string, ObservedProxy>();
  const role = (c: Docker.ContainerInfo) => c.Labels?.[Labels.role];
  for (const c of containers) {
    const env = c.Labels?.[Labels.environment];
    if (role(c) !== 'egress' || !env) continue;
    proxies.set(env, {
      id: c.Id,
      name: (c.Names?.[0] ?? '').replace(/^\//, ''),
      environment: env,
      state: c.State as ContainerState,
      allow: parseJson<string[]>(c.Labels?.[Labels.egressAllow]),
      image: c.Image,
      imageId: c.ImageID,
      ipv6Off: c.Labels?.[Labels.ipv6] === 'off',
    });
  }
  // The one with the environment's own name first, then the oldest (Created has whole seconds,
  // so a copy made in the same second must not win by chance), so the one kept is stable and
  // the strays are the duplicates.
  const ownName = (c: Docker.ContainerInfo) => ((c.Names ?? []).includes(`/${containerName(project, c.Labels?.[Labels.environment] ?? '')}`) ? 0 : 1);
  const envContainers = containers.filter((c) => role(c) === 'environment').sort((a, b) => ownName(a) - ownName(b) || a.Created - b.Created);
  for (const c of envContainers) {
    const oc = parseContainer(c);
    if (!oc) continue;
    if (byEnv.has(oc.environment)) duplicates.push(oc);
    else byEnv.set(oc.environment, oc);
  }
  const vols = new Map<string, ObservedVolume>();
  const foreign = new Map<string, ForeignVolume>();
  const dataVolumes = new Map<string, ObservedDataVolume[]>();
  const foreignData = new Map<string, ForeignVolume>();
  for (const v of volumes) {
    const labels = v.Labels ?? {};
    const data = dataVolumeOf(project, v.Name);
    const ownEnv = labels[Labels.environment];
    const ownVolume = labels[Labels.volume];
    if (labels[Labels.project] === project && labels[Labels.role] === 'volume' && ownEnv && ownVolume) {
      const list = dataVolumes.get(ownEnv) ?? [];
      list.push({ name: v.Name, environment: ownEnv, volume: ownVolume, protect: labels[Labels.protect] === 'true' });
      dataVolumes.set(ownEnv, list);
      continue;
    }
    if (data) {
      foreignData.set(v.Name, { name: v.Name, environment: data.environment, labels });
      continue;
    }
    const ours = labels[Labels.project] === project && labels[Labels.role] === 'workspace';
    const env = ours ? labels[Labels.environment] : workspaceVolumeEnvironment(project, v.Name);
    if (!env) continue;
    if (ours) vols.set(env, { name: v.Name, environment: env, protect: labels[Labels.protect] === 'true', movedFrom: labels[Labels.movedFrom] ?? null });
    else foreign.set(env, { name: v.Name, environment: env, labels });
  }
  const imgs = new Map<string, ObservedImage>();
  for (const img of images) {
    const labels = img.Labels ?? {};
    const tags = (img.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    const project = labels[Labels.project];
    const image = labels[Labels.image];
    const build = project && image ? { project, image, contextFiles: parseJson<Record<string, string>>(labels[Labels.contextFiles]) } : null;
    const digests = (img.RepoDigests ?? []).filter((d) => !d.startsWith('<none>@'));
    const seen: ObservedImage = { id: img.Id, contract: labels[Labels.contract] ?? null, build, created: img.Created, tags, ...(digests.length ? { digests } : {}) };
    for (const tag of img.RepoTags ?? []) if (tag !== '<none>:<none>') imgs.set(tag, seen);
    for (const digest of digests) if (!imgs.has(digest)) imgs.set(digest, seen);
    imgs.set(img.Id, seen);
  }
  if (flavour === 'podman') for (const [short, tag] of podmanShortNames([...imgs.keys()])) if (!imgs.has(short)) imgs.set(short, imgs.get(tag)!);
  const nets = new Map<string, ObservedNetwork>();
  const usedSubnets: string[] = [];
  let outsideNetwork = false;
  let foreignOutsideNetwork: string | undefined;
  for (const n of networks) {
    const subnets = (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => !!s);
    usedSubnets.push(...subnets);
    const labels = n.Labels ?? {};
    const oursOutside = labels[Labels.project] === project && labels[Labels.role] === 'egress';
    if (n.Name === outsideNetworkName(project) && !oursOutside) foreignOutsideNetwork = n.Id;
    if (labels[Labels.project] !== project) continue;
    if (labels[Labels.role] === 'egress') outsideNetwork = true;
    const env = labels[Labels.environment];
    const isolation = gatewayIsolationOf(n, flavour);
    if (labels[Labels.role] === 'network' && env) nets.set(env, { id: n.Id, name: n.Name, subnets, gatewayIsolated: isolation !== null, ...(isolation ? { isolation } : {}) });
  }
  return {
    project,
    networks: nets,
    outsideNetwork,
    ...(foreignOutsideNetwork ? { foreignOutsideNetwork } : {}),
    usedSubnets,
    proxies: withRecordedPolicies(proxies, containers),
    egressPolicyRecords: new Set(containers.filter((c) => role(c) === 'egress-policy').map((c) => c.Labels?.[Labels.environment] ?? '')),
    containers: byEnv,
    duplicates,
    volumes: vols,
    foreignVolumes: foreign,
    dataVolumes: new Map([...dataVolumes].map(([env, list]) => [env, list.sort((a, b) => (a.volume < b.volume ? -1 : a.volume > b.volume ? 1 : 0))])),
    foreignDataVolumes: foreignData,
    filling: new Set(containers.filter((c) => c.Labels?.[Labels.role] === 'filling').map((c) => c.Labels?.[Labels.environment] ?? '')),
    images: imgs,
    protectRecords: protectRecords(containers),
    idle: idleMarks(containers),
    copying: copyingMarks(containers),
    touched: touchTimes(containers),
    activityRecords: activityRecordEnvironments(containers),
    runtimes: Object.keys(info.Runtimes ?? {}).sort(),
    engineVersion: info.ServerVersion ?? 'unknown',
    ...(flavour === 'podman' ? { engineFlavour: 'podman' as const } : {}),
    ...(info.NCPU && info.MemTotal ? { capacity: { cpus: info.NCPU, memoryBytes: info.MemTotal } } : {}),
  };
}

function parseContainer(c: Docker.ContainerInfo): ObservedContainer | null {
  const labels = c.Labels ?? {};
  const environment = labels[Labels.environment];
  if (!environment) return null;
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? '').replace(/^\//, ''),
    environment,
    state: c.State as ContainerState,
    status: c.Status,
    imageId: c.ImageID,
    image: c.Image,
    configHash: labels[Labels.configHash] ?? null,
    spec: parseJson<EnvironmentSpec>(labels[Labels.spec]),
    resources: parseJson<ResourcesSpec>(labels[Labels.resources]),
    resourcesFrom: 'label',
    protect: labels[Labels.protect] === 'true',
    isolation: listedIsolation(c),
    inspected: null,
    ipv6Off: labels[Labels.ipv6] === 'off',
  };
}

/** `ss.PROJECT.ENV.workspace` → ENV; null for any other name. */
function workspaceVolumeEnvironment(project: string, name: string): string | null {
  const prefix = `ss.${project}.`;
  if (!name.startsWith(prefix) || !name.endsWith('.workspace')) return null;
  const env = name.slice(prefix.length, -'.workspace'.length);
  return /^[a-z0-9][a-z0-9-]*$/.test(env) ? env : null;
}

/** `ss.PROJECT.ENV.vol.NAME` → ENV and NAME; null for any other name. */
function dataVolumeOf(project: string, name: string): { environment: string; volume: string } | null {
  const m = /^([a-z0-9][a-z0-9-]*)\.vol\.([a-z0-9][a-z0-9-]*)$/.exec(name.startsWith(`ss.${project}.`) ? name.slice(`ss.${project}.`.length) : '');
  return m ? { environment: m[1]!, volume: m[2]! } : null;
}

function parseJson<T>(text: string | undefined): T | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    // A label we cannot read is treated like a missing one: the planner says so and replaces.
    return null;
  }
}

/**
 * Labels cannot change after creation, so after an in-place update the resources label is
 * stale. For the few environments whose labelled limits differ from the desired ones, ask the
 * engine for the live values. The common path (nothing changed) makes no inspect calls.
 */
export async function refineResources(engine: Engine, observed: ObservedState, envs: readonly string[]): Promise<ObservedState> {
  if (envs.length === 0) return observed;
  const containers = new Map(observed.containers);
  await withEngine(() =>
    Promise.all(
      envs.map(async (env) => {
        const c = containers.get(env);
        if (!c) return;
        const info = await engine.reader.inspectContainer(c.id);
        containers.set(env, { ...c, resources: liveResources(info.HostConfig), resourcesFrom: 'engine' });
      }),
    ),
  );
  return { ...observed, containers };
}

/** The limits an inspect shows, in the units of the spec (the runsc pids headroom taken off). */
export function liveResources(hc: Docker.HostConfig): ResourcesSpec {
  return { cpus: (hc.NanoCpus ?? 0) / 1e9, memoryBytes: hc.Memory ?? 0, pids: (hc.PidsLimit ?? 0) - (hc.Runtime === 'runsc' ? RUNSC_PIDS_HEADROOM : 0) };
}
