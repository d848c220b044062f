// The pipeline as a library: load → resolve → observe → plan → apply. The CLI is a thin layer
// over these; tests and other programs can call them directly.
import { readFile } from 'node:fs/promises';
import { executePlan } from './apply/executor.js';
import type { ApplyListener, ApplyResult } from './apply/events.js';
import { loadConfig } from './config/index.js';
import type { Config } from './config/types.js';
import { DiagnosticsError, errorDiag, hasErrors, warningDiag, type Diagnostic } from './diagnostics.js';
import { connectEngine, observe, refineResources, withEngine, type Engine } from './engine/index.js';
import { probeImage } from './engine/image-probe.js';
import { contractViolations } from './plan/contract.js';
import type { DesiredEnvironment, DesiredState, SecretValues } from './model/desired.js';
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

/**
 * Loads the config and observes the engine at the same time: the engine's list calls (a few
 * hundred ms at 1,000 containers) run while the YAML is parsed and validated. The project name
 * is read ahead from the file's top-level `project:` line; if the parsed config disagrees, the
 * early answer is dropped and the engine is asked again.
 */
export async function loadAndObserve(
  engine: Engine,
  configPath: string,
  options: { needSecrets?: boolean } = {},
): Promise<{ loaded: Loaded; observed: ObservedState }> {
  const peeked = await peekProject(configPath);
  const early = peeked ? observe(engine, peeked) : null;
  // Errors surface below, from whichever of load() or the awaited observe() comes first.
  early?.catch(() => undefined);
  // Let the requests leave before the synchronous parse takes the thread.
  await new Promise((r) => setImmediate(r));
  const loaded = load(configPath, options);
  const observed = early && peeked === loaded.desired.project ? await early : await observe(engine, loaded.desired.project);
  return { loaded, observed: await refineStale(engine, loaded.desired, observed) };
}

async function peekProject(configPath: string): Promise<string | null> {
  try {
    const text = await readFile(configPath, 'utf8');
    return /^project:[ \t]*["']?([a-z0-9][a-z0-9-]*)["']?[ \t]*(#.*)?$/m.exec(text)?.[1] ?? null;
  } catch {
    return null; // load() reports the unreadable file with advice
  }
}

/** One snapshot of the engine, with live limits for the few environments whose labels are stale. */
export async function observeFor(engine: Engine, desired: DesiredState): Promise<ObservedState> {
  return refineStale(engine, desired, await observe(engine, desired.project));
}

async function refineStale(engine: Engine, desired: DesiredState, observed: ObservedState): Promise<ObservedState> {
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

/**
 * The image contract, checked before anything is created: for every image an environment is
 * about to be created on (and that is not built by this plan: builds are checked right after
 * building), probe it as that environment's user. Makes engine calls only when the plan
 * creates something.
 */
export async function checkImageContracts(engine: Engine, loaded: Loaded, plan: Plan): Promise<Diagnostic[]> {
  const probes = new Map<string, DesiredEnvironment[]>();
  for (const c of plan.changes) {
    if (c.type !== 'environment' || !c.steps.includes('create-container') || c.dependsOn.length > 0) continue;
    const d = loaded.desired.environments.get(c.name);
    if (!d) continue;
    const key = `${d.spec.image}\0${d.uid}:${d.gid}`;
    probes.set(key, [...(probes.get(key) ?? []), d]);
  }
  if (probes.size === 0) return [];
  const docker = await engine.docker();
  const out: Diagnostic[] = [];
  for (const envs of probes.values()) {
    const first = envs[0]!;
    const facts = await withEngine(() => probeImage(docker, first.spec.image, first.uid, first.gid));
    for (const v of contractViolations(facts)) {
      const names = envs.map((d) => d.name).join(', ');
      const accepted = v.rule === 'contract-version' && envs.every((d) => d.allowContractMismatch);
      out.push(
        accepted
          ? warningDiag(`${v.message}; accepted by allowContractMismatch for ${names}`, { path: `images.${first.imageName}` })
          : errorDiag(`image contract: ${v.message} (image '${first.imageName}', wanted by ${names})`, { path: `images.${first.imageName}`, hint: v.fix }),
      );
    }
  }
  return out;
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
