// The versioned JSON plan: the contract (schemas/plan.schema.json) for machines, saved plan
// files, and every other renderer. Secrets appear by name only.
import type { Diagnostic } from '../diagnostics.js';
import { summarize, type Change, type Plan } from '../plan/types.js';
import { VERSION } from '../version.js';

export const PLAN_FORMAT_VERSION = '1.0';

export interface JsonChange {
  address: string;
  type: Change['type'];
  name: string;
  change: { actions: Change['actions']; before: Change['before']; after: Change['after'] };
  kind: Change['kind'];
  reasons: Change['reasons'];
  data_effect: Change['dataEffect'];
  workspace: Change['workspace'];
  steps: Change['steps'];
  container_id: string | null;
  container_name: string;
  volume_name: string;
  resources: Change['resources'];
  config_hash: string | null;
  image_ref: string | null;
  verify: { uid: number; gid: number; allow_contract_mismatch: boolean } | null;
  egress: Change['egress'];
  security: string[];
  depends_on: string[];
  /** For an environment renamed with `moved`: whose /workspace is copied into its new volume. */
  moved_from?: { environment: string; volume: string } | null;
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
  summary: { build: number; add: number; change: number; destroy: number };
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
  return {
    address: c.address,
    type: c.type,
    name: c.name,
    change: { actions: c.actions, before: c.before, after: c.after },
    kind: c.kind,
    reasons: c.reasons,
    data_effect: c.dataEffect,
    workspace: c.workspace,
    steps: c.steps,
    container_id: c.containerId,
    container_name: c.containerName,
    volume_name: c.volumeName,
    resources: c.resources,
    config_hash: c.configHash,
    image_ref: c.imageRef,
    verify: c.verify && { uid: c.verify.uid, gid: c.verify.gid, allow_contract_mismatch: c.verify.allowContractMismatch },
    egress: c.egress,
    security: c.security,
    depends_on: c.dependsOn,
    ...(c.movedFrom ? { moved_from: c.movedFrom } : {}),
  };
}

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
    changes: j.resource_changes.map((c) => ({
      address: c.address,
      type: c.type,
      name: c.name,
      kind: c.kind,
      actions: c.change.actions,
      reasons: c.reasons,
      dataEffect: c.data_effect,
      before: c.change.before,
      after: c.change.after,
      containerId: c.container_id,
      containerName: c.container_name,
      volumeName: c.volume_name,
      workspace: c.workspace,
      steps: c.steps,
      resources: c.resources,
      configHash: c.config_hash,
      imageRef: c.image_ref,
      verify: c.verify && { uid: c.verify.uid, gid: c.verify.gid, allowContractMismatch: c.verify.allow_contract_mismatch },
      egress: c.egress,
      security: c.security,
      dependsOn: c.depends_on,
      movedFrom: c.moved_from ?? null,
    })),
  };
}

export function renderJson(plan: Plan): string {
  return `${JSON.stringify(planToJson(plan), null, 2)}\n`;
}
