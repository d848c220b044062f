// The pipeline as a library: load → resolve → observe → plan → apply. The CLI is a thin layer
// over these; tests and other programs can call them directly.
import { executePlan } from './apply/executor.js';
import type { ApplyListener, ApplyResult } from './apply/events.js';
import { loadConfig } from './config/index.js';
import type { Config } from './config/types.js';
import { DiagnosticsError, hasErrors, type Diagnostic } from './diagnostics.js';
import { connectEngine, observe, refineResources, type Engine } from './engine/index.js';
import type { DesiredState, SecretValues } from './model/desired.js';
import type { ObservedState } from './model/observed.js';
import { resolveDesired } from './model/resolve.js';
import { plan as makePlan, planDestroy, type Plan } from './plan/index.js';
import { sameResources } from './plan/reasons.js';

export interface Loaded {
  config: Config;
  desired: DesiredState;
  secrets: SecretValues;
  warnings: Diagnostic[];
}

/** Loads and resolves the config; any error diagnostic (config or secrets) throws. */
export function load(configPath: string, options: { needSecrets?: boolean } = {}): Loaded {
  const { config, diagnostics } = loadConfig(configPath);
  if (!config || hasErrors(diagnostics)) throw new DiagnosticsError(diagnostics);
  const resolved = resolveDesired(config);
  const all = [...diagnostics, ...resolved.diagnostics];
  if (options.needSecrets !== false && hasErrors(all)) throw new DiagnosticsError(all);
  return { config, desired: resolved.desired, secrets: resolved.secrets, warnings: all.filter((d) => d.severity === 'warning') };
}

/** One snapshot of the engine, with live limits for the few environments whose labels are stale. */
export async function observeFor(engine: Engine, desired: DesiredState): Promise<ObservedState> {
  const observed = await observe(engine, desired.project);
  const stale = [...desired.environments.values()]
    .filter((d) => {
      const c = observed.containers.get(d.name);
      return c && c.configHash === d.configHash && !sameResources(c.resources, d.resources);
    })
    .map((d) => d.name);
  return refineResources(engine, observed, stale);
}

export interface PlanRequest {
  targets?: string[];
  destroy?: boolean;
  purgeVolumes?: boolean;
}

export function planFor(loaded: Loaded, observed: ObservedState, req: PlanRequest = {}): Plan {
  const p = req.destroy
    ? planDestroy(loaded.desired, observed, { targets: req.targets, purgeVolumes: req.purgeVolumes })
    : makePlan(loaded.desired, observed, { targets: req.targets });
  return { ...p, diagnostics: [...loaded.warnings, ...p.diagnostics] };
}

export async function applyPlan(
  engine: Engine,
  loaded: Loaded,
  plan: Plan,
  options: { parallelism?: number; onEvent?: ApplyListener; stopGraceSeconds?: number } = {},
): Promise<ApplyResult> {
  return executePlan(plan, {
    engine: await engine.docker(),
    desired: loaded.desired,
    secrets: loaded.secrets,
    parallelism: options.parallelism ?? 10,
    onEvent: options.onEvent,
    stopGraceSeconds: options.stopGraceSeconds,
  });
}

export { connectEngine };
