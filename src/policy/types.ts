// The engine's policy: rules its administrators set for every project on the engine
// (`sandboxshift policy set FILE`). Parsed from schemas/policy.schema.json's shape, units parsed.

export const POLICY_VERSION = 1;

export type DangerousValue = 'privileged' | 'host-network' | 'docker-socket' | 'host-mounts' | 'root-user';

export interface Totals {
  environments?: number;
  cpus?: number;
  memoryBytes?: number;
}

export interface Policy {
  images?: { allow?: string[]; digestPinnedOnly?: boolean };
  runtime?: 'runc' | 'runsc';
  environment?: { cpus?: number; memoryBytes?: number; pids?: number };
  project?: Totals;
  engine?: Totals;
  egress?: { deny?: string[]; maxEntries?: number };
  allowDangerous?: DangerousValue[];
  idle?: { required?: boolean; maxStopAfterSeconds?: number };
}

/** The policy as stored on the engine: the document as written (canonical JSON) and who set it, when. */
export interface StoredPolicy {
  policy: Policy;
  /** Canonical JSON of the document the administrator set. */
  document: string;
  /** sha256 of `document`, hex. */
  hash: string;
  setBy: string;
  setAt: string;
  generation: number;
}

/** Whether the policy has any engine-wide ceiling (those need the engine-wide lock to check). */
export function hasEngineCeilings(policy: Policy): boolean {
  const e = policy.engine;
  return e !== undefined && (e.environments !== undefined || e.cpus !== undefined || e.memoryBytes !== undefined);
}
