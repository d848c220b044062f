// The shape of sandboxshift.yaml after schema validation, defaults merged and units parsed.
// `src/config` produces it; `src/model` turns it into desired resources.

export const CONFIG_VERSION = 1;
export const DEFAULT_CONFIG_FILE = 'sandboxshift.yaml';

/** Settings that need an explicit opt-in under `allowDangerous`. */
export type DangerousSetting = 'privileged' | 'host-network' | 'docker-socket' | 'host-mounts' | 'root-user';

export type SecretSource = { fromEnv: string } | { fromFile: string };

export type PullPolicy = 'always' | 'if-not-present' | 'never';

/** A Docker config.json (its `auths` entry for the ref's registry), or a username and password. */
export type PullSecretConfig = { dockerConfig: SecretSource } | { username: SecretSource; password: SecretSource };

export interface ImageConfig {
  name: string;
  /** An image reference the engine already has (or can pull). */
  ref?: string;
  /** When to ask the registry for `ref` (default if-not-present). */
  pull?: PullPolicy;
  /** Registry credentials for `ref`, by reference (fromFile paths made absolute). */
  pullSecret?: PullSecretConfig;
  /** Built from a local context (issue: images). `context` is resolved against the config's folder. */
  build?: {
    context: string;
    dockerfile: string;
    args: Record<string, string>;
    /** `REGISTRY/REPO` the built image is pushed to, under its content tag. */
    push?: string;
    /** Credentials for `push`, by reference. */
    pushSecret?: PullSecretConfig;
  };
}

export interface ResourcesConfig {
  /** CPUs, e.g. 0.5 */
  cpus: number;
  /** Bytes. Written as `512m`, `1g`, `256Mi`, `1GiB` in YAML. */
  memoryBytes: number;
  /** Max processes (pids cgroup). */
  pids: number;
}

export type EgressConfig = { mode: 'none' } | { mode: 'allow'; allow: string[] };

export interface IdleConfig {
  /** Seconds of inactivity before the environment is stopped; null means never. */
  stopAfterSeconds: number | null;
  /** `stop`: SIGTERM, then stopped (/workspace kept); `pause`: frozen with its memory. */
  action: 'stop' | 'pause';
  /** CPU use (percent of one core) above which the environment counts as working. */
  cpuPercent: number;
}

export interface MountConfig {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface WorkspaceConfig {
  /** Seed the volume once from a local folder (issue: images). Resolved against the config's folder. */
  from?: string;
  /** Seed the volume once from a git repository (issue: images). */
  git?: { url: string; ref?: string };
  /** Mount an existing volume of the workspace's name that SandboxShift did not create. */
  adopt?: boolean;
  /** A host folder (absolute, resolved against the config's folder) bind-mounted as /workspace instead of a volume. */
  hostPath?: string;
}

export interface EnvironmentConfig {
  name: string;
  /** Key in `images`, or `auto`. */
  image: string;
  env: Record<string, string>;
  secrets: Record<string, SecretSource>;
  resources: ResourcesConfig;
  runtime: 'runc' | 'runsc';
  uid: number;
  gid: number;
  /** argv; a string in YAML is run as `sh -c STRING`. Undefined: the image's own command. */
  command?: string[];
  workspace: WorkspaceConfig;
  /** More persistent named volumes: NAME → absolute path inside the container (defaults merged key by key). */
  volumes: Record<string, string>;
  /** True when `user:` was written (in the environment or its defaults), not the built-in default. */
  userSet: boolean;
  protect: boolean;
  egress: EgressConfig;
  idle: IdleConfig;
  privileged: boolean;
  hostNetwork: boolean;
  mounts: MountConfig[];
  allowDangerous: DangerousSetting[];
  /** Accept an image whose contract label is missing or of another version (shown as a warning). */
  allowContractMismatch: boolean;
}

export interface Config {
  version: 1;
  project: string;
  /** Absolute path of the file it was loaded from. */
  file: string;
  /** Absolute folder that relative paths in the file are resolved against. */
  dir: string;
  images: Record<string, ImageConfig>;
  environments: Record<string, EnvironmentConfig>;
  /** Renamed environments: old name → new name, so the workspace follows. */
  moved: Array<{ from: string; to: string }>;
  /** Raw text of the file, for hashing (stale saved plans) and `diff`. */
  source: string;
}

/** Built-in defaults, applied under `defaults:` and then each environment's own keys. */
export const BUILTIN_DEFAULTS = {
  resources: { cpus: 1, memoryBytes: 512 * 1024 * 1024, pids: 256 },
  runtime: 'runc' as const,
  uid: 65532,
  gid: 65532,
  egress: { mode: 'none' } as EgressConfig,
  idle: { stopAfterSeconds: null, action: 'stop', cpuPercent: 5 } as IdleConfig,
};
