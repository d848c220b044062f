// What the engine has, as one immutable snapshot with labels already parsed.
// `engine/observe.ts` builds it; the planner reads only this.
import type { EnvironmentSpec, ResourcesSpec } from './desired.js';
import type { GatewayIsolation } from './egress.js';
import type { InspectedSecurity, ListedIsolation, ObservedProtectRecord } from './isolation.js';

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ObservedContainer {
  id: string;
  name: string;
  environment: string;
  state: ContainerState;
  /** Docker's human status, e.g. "Exited (137) 2 minutes ago". */
  status: string;
  imageId: string;
  image: string;
  configHash: string | null;
  /** Parsed spec label; null when missing or unreadable (made by another tool version). */
  spec: EnvironmentSpec | null;
  /** Limits as labelled at creation, or as the engine reports them after `refineResources`. */
  resources: ResourcesSpec | null;
  resourcesFrom: 'label' | 'engine';
  /** The protect label at creation; see plan/protect.ts for the effective value. */
  protect: boolean;
  /** Network and mounts as the list call shows them; null when not read from an engine (diff). */
  isolation: ListedIsolation | null;
  /** User, capabilities, security options, runtime: only on a full refresh, else null. */
  inspected: InspectedSecurity | null;
  /**
   * Created with IPv6 off (IPV6_OFF_SYSCTLS), as its label says: Podman 4.3 shows sysctls in
   * neither inspect. Absent when not read from an engine.
   */
  ipv6Off?: boolean;
}

/** An idle policy's stop or pause, recorded on the engine so every machine's plan sees it. */
export interface IdleMark {
  environment: string;
  /** ISO time of the last activity before the policy acted. */
  since: string;
  action: 'stop' | 'pause';
  containerId: string;
}

/** A `sandboxshift cp` that paused the environment's container while it copies (engine/copy-freeze.ts). */
export interface CopyingMark {
  environment: string;
  containerId: string;
  /** Who copies: host and pid, and since when (ISO). */
  holder: string;
  pid: number;
  since: string;
  /** false: that cp ran on this host and is gone, so the pause it left is drift. */
  live: boolean;
}

export interface ObservedVolume {
  name: string;
  environment: string;
  protect: boolean;
  /** For a volume made for a `moved` environment: the old environment whose files it takes. */
  movedFrom: string | null;
}

/** An extra named volume (`volumes:`) we created, labelled with its environment and name. */
export interface ObservedDataVolume {
  /** Engine name, `ss.PROJECT.ENV.vol.NAME`. */
  name: string;
  environment: string;
  /** Its name under `volumes:`. */
  volume: string;
  protect: boolean;
}

/** A volume with a workspace's name that SandboxShift did not create (no labels of ours). */
export interface ForeignVolume {
  name: string;
  environment: string;
  labels: Readonly<Record<string, string>>;
}

export interface ObservedNetwork {
  id: string;
  name: string;
  subnets: readonly string[];
  /** The host has no address on it (see GatewayIsolation), so the sandbox cannot reach the host. */
  gatewayIsolated: boolean;
  /** How it is isolated, when it is and the options were read. */
  isolation?: GatewayIsolation;
}

export interface ObservedProxy {
  id: string;
  name: string;
  environment: string;
  state: ContainerState;
  /** The allow list the proxy was created with. */
  allow: readonly string[] | null;
  image: string;
  imageId: string;
  /**
   * What its egress-policy records say it enforces since a reload in place: absent when it has
   * none (the label holds); `unknown` when a reload began and never finished, or the records
   * disagree.
   */
  recorded?: RecordedPolicy;
  /** Created with IPv6 off (its io.sandboxshift.ipv6 label); absent when not read from an engine. */
  ipv6Off?: boolean;
}

export type RecordedPolicy = { allow: readonly string[] } | { unknown: string };

export interface ObservedImage {
  id: string;
  /** Contract label of the image, when it has one. */
  contract: string | null;
  /** For images SandboxShift built: whose, and the per-file hashes of their context. */
  build: { project: string; image: string; contextFiles: Record<string, string> | null } | null;
  /** Unix seconds. */
  created: number;
  tags: readonly string[];
  /** `REPO@sha256:...` for each registry the image was pulled from or pushed to. */
  digests?: readonly string[];
}

/** What a registry said at plan time about an image reference (only those SandboxShift asked about). */
export interface RemoteImage {
  /** The manifest digest the reference names now; null: the registry has no such tag (only asked for `build.push` targets). */
  digest: string | null;
}

export interface ObservedState {
  project: string;
  /** One container per environment; see `duplicates` for the rest. */
  containers: ReadonlyMap<string, ObservedContainer>;
  /** Extra containers labelled with an environment that already has one. */
  duplicates: readonly ObservedContainer[];
  volumes: ReadonlyMap<string, ObservedVolume>;
  /** Volumes named like an environment's workspace but not made by us, by environment. Never written to. */
  foreignVolumes: ReadonlyMap<string, ForeignVolume>;
  /** Extra named volumes we created, by environment (sorted by name). */
  dataVolumes?: ReadonlyMap<string, readonly ObservedDataVolume[]>;
  /** Volumes named like an extra named volume but not made by us, by engine name. Never written to. */
  foreignDataVolumes?: ReadonlyMap<string, ForeignVolume>;
  /** Environments whose workspace fill (seed or moved copy) began and never finished. */
  filling: ReadonlySet<string>;
  /** Protect records by environment (two only after an interrupted change). */
  protectRecords: ReadonlyMap<string, readonly ObservedProtectRecord[]>;
  /**
   * Environments an idle policy stopped or paused, by environment: only while the same
   * container is still stopped or paused (a container started or made again is not idle).
   */
  idle?: ReadonlyMap<string, IdleMark>;
  /** Copying records by environment: a pause that is a running cp's is not drift. */
  copying?: ReadonlyMap<string, CopyingMark>;
  /** The last `sandboxshift touch` per environment (ms since epoch). */
  touched?: ReadonlyMap<string, number>;
  /** Environments with idle-stopped or touch records, those that no longer count too, so destroy removes them. */
  activityRecords?: ReadonlySet<string>;
  /** Images by every repo:tag (and REPO@DIGEST) they carry. */
  images: ReadonlyMap<string, ObservedImage>;
  /** Registry answers by image reference, read at plan time (app/registry.ts); absent: none asked. */
  registry?: ReadonlyMap<string, RemoteImage>;
  /** The project's internal environment networks, by environment. */
  networks: ReadonlyMap<string, ObservedNetwork>;
  /** Whether the project's outside network for proxies exists. */
  outsideNetwork: boolean;
  /** A network with the outside network's name that sandboxshift did not create (its ID): never touched, only reported. */
  foreignOutsideNetwork?: string;
  /** Every subnet any network on the engine uses, so new ones never overlap. */
  usedSubnets: readonly string[];
  /** Egress proxies, by environment. */
  proxies: ReadonlyMap<string, ObservedProxy>;
  /** Environments with egress-policy records (whichever proxy they name), so destroy clears them with their proxy. */
  egressPolicyRecords?: ReadonlySet<string>;
  /** Runtimes the engine offers (runc, runsc, ...). */
  runtimes: readonly string[];
  engineVersion: string;
  /** Set when the engine is Podman (src/engine/flavour.ts): it cannot change a container's limits in place. */
  engineFlavour?: 'podman';
  /** On Podman: its network backend (libpod info `host.networkBackend`, `cni` or `netavark`), which decides egress. */
  podmanNetworkBackend?: string;
  /** What the engine's host has, from `info`; absent when no engine was asked (`diff`). */
  capacity?: EngineCapacity;
  /**
   * For environment containers renamed outside sandboxshift: the container now holding the
   * name each should have (expected name → that container's ID), when one does.
   */
  nameHolders?: ReadonlyMap<string, string>;
}

export interface EngineCapacity {
  /** CPUs the engine can give a container (`info` NCPU). */
  cpus: number;
  /** The host's memory in bytes (`info` MemTotal). */
  memoryBytes: number;
}
