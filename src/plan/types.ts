// The plan model. Its JSON form (render/json.ts, schemas/plan.schema.json) is the contract
// every renderer and saved plan file is built from.
import type { Diagnostic } from '../diagnostics.js';
import type { ResourcesSpec } from '../model/desired.js';

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
  | 'changed_outside';

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
  /** Allowed egress destinations; empty: no network at all. */
  egress?: string[];
  /** Where a new /workspace is seeded from: a host folder (absolute) or a git URL@ref. */
  seed?: string;
}

/** What the executor does to the workspace volume. */
export type WorkspaceStep = 'create' | 'reuse' | 'keep' | 'delete';

/**
 * Engine operations, in order. The planner chooses them; the executor only runs them, so
 * what a plan says is exactly what apply does.
 */
export type Step =
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
  | 'build-image'
  | 'verify-image'
  | 'create-outside-network'
  | 'create-network'
  | 'create-proxy'
  | 'remove-proxy'
  | 'remove-network'
  | 'rename-container'
  | 'record-protect'
  | 'remove-protect-record';

export interface EgressPlan {
  network: string;
  subnet: string;
  proxyName: string;
  proxyAddress: string;
  proxyImage: string;
  outsideNetwork: string;
  allow: string[];
}

export interface Change {
  address: string;
  type: 'environment' | 'image' | 'network';
  name: string;
  kind: ChangeKind;
  actions: Action[];
  reasons: Reason[];
  dataEffect: DataEffect;
  before: EnvironmentView | null;
  after: EnvironmentView | null;
  /** Engine object the change acts on, when one exists. */
  containerId: string | null;
  containerName: string;
  volumeName: string;
  workspace: WorkspaceStep;
  steps: Step[];
  /** New limits, for update (and create/replace). */
  resources: ResourcesSpec | null;
  /** Hash of the desired spec (or build context), so a saved plan can be checked against a fresh one. */
  configHash: string | null;
  /** For images: the tag built; for environments: the image they run. */
  imageRef: string | null;
  /** For environments with an allow list: their network and proxy, as planned. */
  egress: EgressPlan | null;
  /** Security-relevant, shown first and highlighted (e.g. egress widened). */
  security: string[];
  /** For image builds: who the contract check runs as, and whether a contract-version mismatch is accepted. */
  verify: { uid: number; gid: number; allowContractMismatch: boolean } | null;
  dependsOn: string[];
  /** For an environment renamed with `moved`: whose /workspace is copied into its new volume. */
  movedFrom?: { environment: string; volume: string } | null;
}

export interface PlanSummary {
  build: number;
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
  const s = { build: 0, add: 0, change: 0, destroy: 0 };
  for (const c of changes) {
    if (c.type === 'image') {
      if (c.kind === 'create') s.build++;
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

/** A change with nothing in it but what is given: for the kinds of change that use few fields. */
export function bareChange(fields: Pick<Change, 'address' | 'type' | 'name' | 'kind' | 'reasons' | 'steps'> & Partial<Change>): Change {
  return {
    actions: [...ACTIONS_BY_KIND[fields.kind]],
    dataEffect: 'none',
    before: null,
    after: null,
    containerId: null,
    containerName: '',
    volumeName: '',
    workspace: 'keep',
    resources: null,
    configHash: null,
    imageRef: null,
    verify: null,
    egress: null,
    security: [],
    dependsOn: [],
    ...fields,
  };
}
