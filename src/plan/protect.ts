// protect, recorded on the engine. Labels cannot change after creation, so a later change of
// protect lives in a protect record (engine/protect-record.ts); the effective value is the
// record's when there is one, else what the environment's container and volume were created with.
import type { DesiredEnvironment } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import type { EnvironmentStep, Reason } from './types.js';

/** The protect value in force for an environment; null when nothing of it is on the engine. */
export function effectiveProtect(env: string, observed: ObservedState): boolean | null {
  const records = observed.protectRecords.get(env) ?? [];
  // Two records only after an interrupted change: read as protected, the safe side.
  if (records.length > 0) return records.some((r) => r.protect);
  const c = observed.containers.get(env);
  const v = observed.volumes.get(env);
  const data = observed.dataVolumes?.get(env) ?? [];
  if (!c && !v && data.length === 0) return null;
  return c?.protect === true || v?.protect === true || data.some((d) => d.protect);
}

export interface ProtectWork {
  /** The value in force now (null: a new environment, created with its own labels). */
  current: boolean | null;
  steps: EnvironmentStep[];
  reasons: Reason[];
  security: string[];
}

/** A protect change is an in-place update: the record is rewritten, nothing restarts. */
export function protectWork(d: DesiredEnvironment, observed: ObservedState): ProtectWork {
  const current = effectiveProtect(d.name, observed);
  const records = observed.protectRecords.get(d.name) ?? [];
  // Left over from an interrupted change: the one that stands is rewritten, the other removed.
  const mixed = new Set(records.map((r) => r.protect)).size > 1;
  if (current === null || (current === d.protect && !mixed)) return { current, steps: [], reasons: [], security: [] };
  const message =
    current === d.protect
      ? `protect record left half-written by an interrupted apply; recorded again as ${d.protect}`
      : `protect: ${current} → ${d.protect} (recorded on the engine; nothing restarts)`;
  return {
    current,
    steps: ['record-protect'],
    reasons: [{ code: 'attribute_changed', attribute: 'protect', message }],
    security: current && !d.protect ? ['protect removed'] : [],
  };
}

/** Records are removed with the last thing they protect: when the workspace volume and every other volume are gone. */
export function protectRecordRemoval(env: string, observed: ObservedState, volumeRemoved: boolean): EnvironmentStep[] {
  const volumeGone = volumeRemoved || (!observed.volumes.has(env) && !observed.dataVolumes?.get(env)?.length);
  return volumeGone && (observed.protectRecords.get(env)?.length ?? 0) > 0 ? ['remove-protect-record'] : [];
}
