// The plan model. Its JSON form (render/json.ts, schemas/plan.schema.json) is the contract
// every renderer and saved plan file is built from.
import type { Diagnostic } from '../diagnostics.js';
import type { ResourcesSpec } from '../model/desired.js';
import type { EgressPlan } from '../model/egress.js';

/** Terraform's vocabulary plus `start` for a stopped container. Replace is ["delete","create"]. */
export type Action = 'no-op' | 'create' | 'update' | 'start' | 'delete';

export type ChangeKind = 'create' | 'replace' | 'update' | 'start' | 'delete' | 'no-op';

/**
 * What the change does to the environment's data:
 * - none: nothing interrupted;
 * - restart: processes restart, the container is kept;
 * - recreate: new container, /workspace kept;
 * - delete-keeps-workspace: the container goes, /workspace volume stays;
 * - destroys-workspace: /workspace is deleted.
 */
export type DataEffect = 'none' | 'restart' | 'recreate' | 'delete-keeps-workspace' | 'destroys-workspace';

/** Machine-readable reason codes; `message` is the human cause. */
export type ReasonCode =
  | 'new'
  | 'missing'
  | 'attribute_changed'
  | 'image_changed'
  | 'untracked_spec'
  | 'resources_changed'
  | 'stopped'
  | 'removed_from_config'
  | 'duplicate'
  | 'destroy'
  | 'purge_workspace'
  | 'image_build'
  | 'egress_widened'
  | 'egress_narrowed'
  | 'egress_proxy'
  | 'incomplete'
  | 'adopted'
  | 'moved'
  | 'renamed'
  | 'changed_outside'
  /** An image pulled from its registry (new, or its tag's digest changed). */
  | 'image_pull'
  /** A built image pushed to its `build.push` repository. */
  | 'image_push'
  /** On a no-op: an idle policy stopped or paused it; not drift. */
  | 'idle'
  /** On a no-op: `sandboxshift cp` paused it while it copies; not drift. */
  | 'copying';

export interface Reason {
  code: ReasonCode;
  /** Attribute path, e.g. `env.FOO`, `secrets.api_key`, `resources.memory`. */
  attribute?: string;
  message: string;
}

/** A redacted, render-ready view of an environment (secrets as names only). */
export interface EnvironmentView {
  image: string;
  env: Record<string, string>;
  secrets: string[];
  command: string[] | null;
  user: string;
  runtime: string;
  network: string;
  privileged: boolean;
  resources: { cpus: number; memory: string; pids: number };
  protect: boolean;
  container?: string;
  state?: string;
  /** Why `image: auto` chose the image. */
  imageNote?: string;
  /** The manifest digest the image's registry named at plan time (only when plan asked it). */
  imageDigest?: string;
  /** Allowed egress destinations; empty: no network at all. */
  egress?: string[];
  /** Where a new /workspace is seeded from: a host folder (absolute) or a git URL@ref. */
  seed?: string;
}

/** An extra named volume (`volumes:`) of an environment, and what the change does to it. */
export interface PlannedVolume {
  /** Its name under `volumes:`. */
  name: string;
  /** Engine name, `ss.PROJECT.ENV.vol.NAME`. */
  volumeName: string;
  /** Where it is mounted; null when no config or container says so (an orphan without a container). */
  path: string | null;
  /** create: made with the container; keep: kept as it is; delete: deleted (destroy --purge-volumes). */
  action: 'create' | 'keep' | 'delete';
}

/** What the executor does to the workspace volume. */
export type WorkspaceStep = 'create' | 'reuse' | 'keep' | 'delete';

/**
 * Engine operations, in order. The planner chooses them; the executor only runs them, so
 * what a plan says is exactly what apply does. Each kind of resource has its own steps.
 */
export type EnvironmentStep =
  | 'remove-container'
  | 'create-container'
  | 'copy-secrets'
  | 'start'
  | 'unpause'
  | 'update-resources'
  | 'remove-volume'
  | 'seed-workspace'
  | 'copy-workspace'
  | 'mark-filling'
  | 'mark-filled'
  | 'create-network'
  | 'create-proxy'
  | 'remove-proxy'
  | 'reload-egress-policy'
  | 'remove-network'
  | 'rename-container'
  | 'record-protect'
  | 'remove-protect-record'
  | 'remove-idle-records';

export type ImageStep = 'build-image' | 'pull-image' | 'verify-image' | 'push-image';

export type NetworkStep = 'create-outside-network' | 'remove-outside-network';

export type Step = EnvironmentStep | ImageStep | NetworkStep;

// Every step of each type, as object keys so that a step added to a type's union and not here
// (or here and not there) is a compile error.
const STEP_SETS: { readonly [T in Change['type']]: Record<StepOf<T>, true> } = {
  environment: {
    'remove-container': true,
    'create-container': true,
    'copy-secrets': true,
    start: true,
    unpause: true,
    'update-resources': true,
    'remove-volume': true,
    'seed-workspace': true,
    'copy-workspace': true,
    'mark-filling': true,
    'mark-filled': true,
    'create-network': true,
    'create-proxy': true,
    'remove-proxy': true,
    'reload-egress-policy': true,
    'remove-network': true,
    'rename-container': true,
    'record-protect': true,
    'remove-protect-record': true,
    'remove-idle-records': true,
  },
  image: { 'build-image': true, 'pull-image': true, 'verify-image': true, 'push-image': true },
  network: { 'create-outside-network': true, 'remove-outside-network': true },
};

/** Which steps each type of change may have (a saved plan is checked against it). */
export const STEPS_BY_TYPE: { readonly [T in Change['type']]: readonly StepOf<T>[] } = {
  environment: Object.keys(STEP_SETS.environment) as EnvironmentStep[],
  image: Object.keys(STEP_SETS.image) as ImageStep[],
  network: Object.keys(STEP_SETS.network) as NetworkStep[],
};

export type StepOf<T extends Change['type']> = Extract<Change, { type: T }>['steps'][number];

// Shared with engine/, which must not import from plan/.
export type { EgressPlan } from '../model/egress.js';

/** What every change has, whatever it acts on. */
interface ChangeCommon {
  address: string;
  name: string;
  kind: ChangeKind;
  actions: Action[];
  reasons: Reason[];
  dataEffect: DataEffect;
  /** Hash of the desired spec (or build context), so a saved plan can be checked against a fresh one. */
  configHash: string | null;
  /** Security-relevant, shown first and highlighted (e.g. egress widened). */
  security: string[];
  dependsOn: string[];
}

/** A sandbox environment: its container, workspace volume, and egress network and proxy. */
export interface EnvironmentChange extends ChangeCommon {
  type: 'environment';
  before: EnvironmentView | null;
  after: EnvironmentView | null;
  /** Engine object the change acts on, when one exists. */
  containerId: string | null;
  containerName: string;
  volumeName: string;
  workspace: WorkspaceStep;
  steps: EnvironmentStep[];
  /** New limits, for update (and create/replace). */
  resources: ResourcesSpec | null;
  /** The image the environment runs. */
  imageRef: string | null;
  /** For environments with an allow list: their network and proxy, as planned. */
  egress: EgressPlan | null;
  /** For an environment renamed with `moved`: whose /workspace is copied into its new volume. */
  movedFrom?: { environment: string; volume: string } | null;
  /** Its extra named volumes (`volumes:`); absent or empty when it has none. */
  volumes?: PlannedVolume[];
  /** The host folder mounted as /workspace (`workspace.hostPath`) and its owner, instead of a workspace volume. */
  hostWorkspace?: { path: string; uid: number; gid: number } | null;
}

/** An image built from a context in the config. */
export interface ImageChange extends ChangeCommon {
  type: 'image';
  steps: ImageStep[];
  /** The tag built, or the reference pulled. */
  imageRef: string;
  /** For a pull: the manifest digest the registry named at plan time, which is exactly what apply pulls. */
  digest?: string;
  /** For a build with `build.push`: the `REPO:ctx-HASH` it is pushed to. */
  push?: string;
  /** Who the contract check runs as, and whether a contract-version mismatch is accepted. */
  verify: { uid: number; gid: number; allowContractMismatch: boolean };
}

/** The project's outside network, shared by its egress proxies. */
export interface NetworkChange extends ChangeCommon {
  type: 'network';
  steps: NetworkStep[];
}

export type Change = EnvironmentChange | ImageChange | NetworkChange;

export interface PlanSummary {
  build: number;
  /** Images pulled from a registry; absent when none. */
  pull?: number;
  /** Built images pushed again (their `build.push` registry lacks them); absent when none. */
  push?: number;
  add: number;
  change: number;
  destroy: number;
}

export interface Plan {
  project: string;
  mode: 'normal' | 'destroy';
  changes: Change[];
  diagnostics: Diagnostic[];
  targets: string[];
  /** Hash of the config text the plan was made from. */
  sourceHash: string;
  /** Hash of the observed state the plan was made from. */
  observedFingerprint: string;
  engineVersion: string;
  /** `full`: every environment container was inspected (`--refresh=full`); absent: the list calls only. */
  refresh?: 'full';
}

export function summarize(changes: readonly Change[]): PlanSummary {
  const s: PlanSummary = { build: 0, add: 0, change: 0, destroy: 0 };
  for (const c of changes) {
    if (c.type === 'image') {
      if (c.kind !== 'create') continue;
      if (c.steps.includes('build-image')) s.build++;
      else if (c.steps.includes('pull-image')) s.pull = (s.pull ?? 0) + 1;
      else s.push = (s.push ?? 0) + 1;
    } else if (c.kind === 'create') s.add++;
    else if (c.kind === 'replace') {
      s.add++;
      s.destroy++;
    } else if (c.kind === 'update' || c.kind === 'start') s.change++;
    else if (c.kind === 'delete') s.destroy++;
  }
  return s;
}

export function hasChanges(plan: Plan): boolean {
  return plan.changes.some((c) => c.kind !== 'no-op');
}

export const ACTIONS_BY_KIND: Record<ChangeKind, Action[]> = {
  create: ['create'],
  replace: ['delete', 'create'],
  update: ['update'],
  start: ['start'],
  delete: ['delete'],
  'no-op': ['no-op'],
};

type Bare<C extends Change> = Pick<C, 'address' | 'type' | 'name' | 'kind' | 'reasons' | 'steps'> & Partial<C>;

/** A change with nothing in it but what is given: for the kinds of change that use few fields. */
export function bareChange(fields: Bare<EnvironmentChange>): EnvironmentChange;
export function bareChange(fields: Bare<ImageChange> & Pick<ImageChange, 'imageRef' | 'verify'>): ImageChange;
export function bareChange(fields: Bare<NetworkChange>): NetworkChange;
export function bareChange(fields: Bare<Change>): Change {
  const common = { actions: [...ACTIONS_BY_KIND[fields.kind]], dataEffect: 'none' as const, configHash: null, security: [], dependsOn: [] };
  if (fields.type !== 'environment') return { ...common, ...fields } as Change;
  return {
    ...common,
    before: null,
    after: null,
    containerId: null,
    containerName: '',
    volumeName: '',
    workspace: 'keep',
    resources: null,
    imageRef: null,
    egress: null,
    ...fields,
  };
}
