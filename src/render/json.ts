// The versioned JSON plan: the contract (schemas/plan.schema.json) for machines, saved plan
// files, and every other renderer. Secrets appear by name only.
import type { Diagnostic } from '../diagnostics.js';
import {
  summarize,
  type PlannedVolume,
  type Change,
  type EnvironmentChange,
  type EnvironmentStep,
  type EnvironmentView,
  type ImageStep,
  type NetworkStep,
  type Plan,
  type Step,
  STEPS_BY_TYPE,
} from '../plan/types.js';
import { VERSION } from '../version.js';

export const PLAN_FORMAT_VERSION = '1.0';

/** One change, flat: every field present for every type (null or empty where it does not apply). */
export interface JsonChange {
  address: string;
  type: Change['type'];
  name: string;
  change: { actions: Change['actions']; before: EnvironmentView | null; after: EnvironmentView | null };
  kind: Change['kind'];
  reasons: Change['reasons'];
  data_effect: Change['dataEffect'];
  workspace: EnvironmentChange['workspace'];
  steps: Step[];
  container_id: string | null;
  container_name: string;
  volume_name: string;
  resources: EnvironmentChange['resources'];
  config_hash: string | null;
  image_ref: string | null;
  /** For a pulled image: the digest resolved at plan time. */
  digest?: string;
  /** For a built image with `build.push`: where it is pushed. */
  push?: string;
  verify: { uid: number; gid: number; allow_contract_mismatch: boolean } | null;
  egress: EnvironmentChange['egress'];
  security: string[];
  depends_on: string[];
  /** For an environment renamed with `moved`: whose /workspace is copied into its new volume. */
  moved_from?: { environment: string; volume: string } | null;
  /** Its extra named volumes (`volumes:`) and what the change does to each. */
  volumes?: Array<{ name: string; volume_name: string; path: string | null; action: PlannedVolume['action'] }>;
  /** The host folder mounted as /workspace, and its owner (the container's user). */
  host_workspace?: { path: string; uid: number; gid: number };
}

export interface JsonPlan {
  format_version: string;
  sandboxshift_version: string;
  project: string;
  mode: Plan['mode'];
  targets: string[];
  source_hash: string;
  observed_fingerprint: string;
  engine_version: string;
  refresh?: 'full';
  summary: { build: number; pull?: number; push?: number; add: number; change: number; destroy: number };
  resource_changes: JsonChange[];
  diagnostics: Diagnostic[];
}

export function planToJson(plan: Plan): JsonPlan {
  return {
    format_version: PLAN_FORMAT_VERSION,
    sandboxshift_version: VERSION,
    project: plan.project,
    mode: plan.mode,
    targets: plan.targets,
    source_hash: plan.sourceHash,
    observed_fingerprint: plan.observedFingerprint,
    engine_version: plan.engineVersion,
    ...(plan.refresh ? { refresh: plan.refresh } : {}),
    summary: summarize(plan.changes),
    resource_changes: plan.changes.map(changeToJson),
    diagnostics: plan.diagnostics,
  };
}

function changeToJson(c: Change): JsonChange {
  const env = c.type === 'environment' ? c : null;
  return {
    address: c.address,
    type: c.type,
    name: c.name,
    change: { actions: c.actions, before: env?.before ?? null, after: env?.after ?? null },
    kind: c.kind,
    reasons: c.reasons,
    data_effect: c.dataEffect,
    workspace: env?.workspace ?? 'keep',
    steps: c.steps,
    container_id: env?.containerId ?? null,
    container_name: env?.containerName ?? '',
    volume_name: env?.volumeName ?? '',
    resources: env?.resources ?? null,
    config_hash: c.configHash,
    image_ref: c.type === 'network' ? null : c.imageRef,
    ...(c.type === 'image' && c.digest ? { digest: c.digest } : {}),
    ...(c.type === 'image' && c.push ? { push: c.push } : {}),
    verify: c.type === 'image' ? { uid: c.verify.uid, gid: c.verify.gid, allow_contract_mismatch: c.verify.allowContractMismatch } : null,
    egress: env?.egress ?? null,
    security: c.security,
    depends_on: c.dependsOn,
    ...(env?.movedFrom ? { moved_from: env.movedFrom } : {}),
    ...(env?.volumes?.length ? { volumes: env.volumes.map((v) => ({ name: v.name, volume_name: v.volumeName, path: v.path, action: v.action })) } : {}),
    ...(env?.hostWorkspace ? { host_workspace: env.hostWorkspace } : {}),
  };
}

/**
 * The plan a JSON plan describes. The JSON must fit its change types (schemas/plan.schema.json
 * plus `changeShapeProblem`): a saved plan file is checked for both before it gets here.
 */
export function planFromJson(j: JsonPlan): Plan {
  return {
    project: j.project,
    mode: j.mode,
    targets: j.targets,
    sourceHash: j.source_hash,
    observedFingerprint: j.observed_fingerprint,
    engineVersion: j.engine_version,
    ...(j.refresh === 'full' ? { refresh: 'full' as const } : {}),
    diagnostics: j.diagnostics,
    changes: j.resource_changes.map(changeFromJson),
  };
}

function changeFromJson(c: JsonChange): Change {
  const common = {
    address: c.address,
    name: c.name,
    kind: c.kind,
    actions: c.change.actions,
    reasons: c.reasons,
    dataEffect: c.data_effect,
    configHash: c.config_hash,
    security: c.security,
    dependsOn: c.depends_on,
  };
  switch (c.type) {
    case 'image':
      if (!c.image_ref || !c.verify) throw new Error(`internal: image change ${c.address} without image_ref or verify`);
      return {
        ...common,
        type: 'image',
        steps: c.steps as ImageStep[],
        imageRef: c.image_ref,
        ...(c.digest ? { digest: c.digest } : {}),
        ...(c.push ? { push: c.push } : {}),
        verify: { uid: c.verify.uid, gid: c.verify.gid, allowContractMismatch: c.verify.allow_contract_mismatch },
      };
    case 'network':
      return { ...common, type: 'network', steps: c.steps as NetworkStep[] };
    case 'environment':
      return {
        ...common,
        type: 'environment',
        before: c.change.before,
        after: c.change.after,
        containerId: c.container_id,
        containerName: c.container_name,
        volumeName: c.volume_name,
        workspace: c.workspace,
        steps: c.steps as EnvironmentStep[],
        resources: c.resources,
        imageRef: c.image_ref,
        egress: c.egress,
        movedFrom: c.moved_from ?? null,
        ...(c.volumes?.length ? { volumes: c.volumes.map((v) => ({ name: v.name, volumeName: v.volume_name, path: v.path, action: v.action })) } : {}),
        ...(c.host_workspace ? { hostWorkspace: c.host_workspace } : {}),
      };
  }
}

/** Where a JSON change does not fit its type (a step of another type, an image without its tag), or null. */
export function changeShapeProblem(changes: readonly JsonChange[]): string | null {
  for (const [i, c] of changes.entries()) {
    const allowed: readonly Step[] = STEPS_BY_TYPE[c.type];
    const stray = c.steps.find((s) => !allowed.includes(s));
    if (stray) return `at /resource_changes/${i}/steps: '${stray}' is not a step of ${c.type} changes`;
    if (c.type === 'image' && (!c.image_ref || !c.verify)) return `at /resource_changes/${i}: an image change needs image_ref and verify`;
  }
  return null;
}

export function renderJson(plan: Plan): string {
  return `${JSON.stringify(planToJson(plan), null, 2)}\n`;
}
