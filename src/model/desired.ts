// Desired resources: what one environment should look like on the engine.
import type { EgressConfig, MountConfig, WorkspaceConfig } from '../config/types.js';
import type { DesiredImage } from './images.js';

/**
 * Everything that forces a new container when it changes. Stored verbatim (canonical JSON) in
 * the container's `io.sandboxshift.spec` label so the planner can say which attribute changed.
 * Secrets appear only as keyed fingerprints.
 */
export interface EnvironmentSpec {
  image: string;
  env: Record<string, string>;
  secrets: Record<string, string>;
  command: string[] | null;
  user: string;
  runtime: 'runc' | 'runsc';
  /** none: no network at all; egress: its internal network, out only through its proxy. */
  network: 'none' | 'host' | 'egress';
  privileged: boolean;
  mounts: MountConfig[];
  /** Extra named volumes, NAME → path; absent when there are none (so older containers keep their hash). */
  volumes?: Record<string, string>;
  /** The host folder mounted as /workspace (`workspace.hostPath`); absent for a workspace volume. */
  hostWorkspace?: string;
}

/** One extra named volume of an environment, as mounted. */
export interface DesiredVolume {
  /** The name in the config (`volumes: {NAME: path}`). */
  name: string;
  /** Path inside the container. */
  path: string;
  /** Engine volume name, `ss.PROJECT.ENV.vol.NAME`. */
  volumeName: string;
}

/** Changed in place through the engine's update call; never forces a recreate. */
export interface ResourcesSpec {
  cpus: number;
  memoryBytes: number;
  pids: number;
}

export interface DesiredEnvironment {
  address: string;
  name: string;
  containerName: string;
  volumeName: string;
  /** Image name in the config (after `auto` is resolved), for messages. */
  imageName: string;
  /** Why `image: auto` chose this image, when it did. */
  imageNote: string | null;
  /** Address of the image change this environment waits for when the image is built. */
  imageAddress: string;
  spec: EnvironmentSpec;
  resources: ResourcesSpec;
  /** Hash of the canonical spec: the `io.sandboxshift.config-hash` label. */
  configHash: string;
  protect: boolean;
  egress: EgressConfig;
  /** Seeded into a new workspace volume, once. */
  workspace: WorkspaceConfig;
  /** Extra named volumes, by name. */
  volumes: DesiredVolume[];
  uid: number;
  gid: number;
  allowContractMismatch: boolean;
}

export interface DesiredState {
  project: string;
  environments: Map<string, DesiredEnvironment>;
  /** Images the environments use, by name. */
  images: Map<string, DesiredImage>;
  /** Hash of the config file's text, for stale saved plans. */
  sourceHash: string;
  /** `moved` entries: new environment name → the old name whose workspace it takes. */
  moved: ReadonlyMap<string, string>;
}

/** Secret values, kept apart from everything that is printed, hashed into labels or saved. */
export type SecretValues = Map<string, Array<{ name: string; value: Buffer }>>;

/**
 * Every path inside the container where a named volume of the environment is mounted:
 * /workspace (unless it is a host folder) and each of `volumes:`. What must be writable by the
 * environment's user.
 */
export function volumeMounts(d: Pick<DesiredEnvironment, 'spec' | 'volumes'>): string[] {
  return [...(d.spec.hostWorkspace ? [] : ['/workspace']), ...d.volumes.map((v) => v.path)];
}
