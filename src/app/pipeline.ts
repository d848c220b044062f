// The pipeline as a library: load → resolve → observe → plan → apply. The CLI is a thin layer
// over these; tests and other programs can call them directly.
import type { ApplyListener, ApplyResult } from '../apply/events.js';
import { loadConfigCached } from '../config/index.js';
import { peekProject } from '../config/peek.js';
import type { Config } from '../config/types.js';
import { DiagnosticsError, errorDiag, hasErrors, warningDiag, type Diagnostic } from '../diagnostics.js';
import { connectEngine, withEngine, type Engine } from '../engine/client.js';
import { observe, refineResources } from '../engine/observe.js';
import { withPodmanBackend } from '../engine/podman-facts.js';
import { inspectSecurity } from '../engine/inspect-security.js';
import { checkProxyPolicies } from '../engine/proxy-policy-check.js';
import { probeImage } from '../engine/image-probe.js';
import { contractViolations } from '../plan/contract.js';
import type { DesiredEnvironment, DesiredState, SecretValues } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import { resolveDesired } from '../model/resolve.js';
import { emptyObserved, observedFromDesired, plan as makePlan, planDestroy, type Plan } from '../plan/index.js';
import { sameResources } from '../plan/reasons.js';
import { askRegistries } from './registry.js';

export interface Loaded {
  config: Config;
  desired: DesiredState;
  secrets: SecretValues;
  warnings: Diagnostic[];
}

/**
 * Loads and resolves the config; any error diagnostic (config or secrets) throws.
 * `readBuildContexts: false`, for commands that build nothing (destroy, status, ...): build
 * contexts are neither read nor checked, and built images carry no ctx- tag (model/images.ts).
 */
export function load(configPath: string, options: { needSecrets?: boolean; readBuildContexts?: boolean } = {}): Loaded {
  const { config, diagnostics } = loadConfigCached(configPath);
  if (!config || hasErrors(diagnostics)) throw new DiagnosticsError(diagnostics);
  const resolved = resolveDesired(config, { readBuildContexts: options.readBuildContexts });
  const all = [...diagnostics, ...resolved.diagnostics];
  // Without secrets (images build), a build context that was read and refused still stops the
  // command: its image would otherwise be left out without a word.
  const fatal = options.needSecrets !== false ? all : all.filter((d) => d.path?.startsWith('images.'));
  if (hasErrors(fatal)) throw new DiagnosticsError(fatal);
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
  options: { needSecrets?: boolean; refresh?: Refresh; registry?: boolean } = {},
): Promise<{ loaded: Loaded; observed: ObservedState }> {
  const peeked = await peekProject(configPath);
  const early = peeked ? observe(engine, peeked) : null;
  // Errors surface below, from whichever of load() or the awaited observe() comes first.
  early?.catch(() => undefined);
  // Let the requests leave before the synchronous parse takes the thread.
  await new Promise((r) => setImmediate(r));
  const loaded = load(configPath, options);
  const observed = early && peeked === loaded.desired.project ? await early : await observe(engine, loaded.desired.project);
  const refreshed = await refresh(engine, loaded.desired, observed, options.refresh);
  return { loaded, observed: options.registry === false ? refreshed : await askRegistries(engine, loaded.desired, refreshed, loaded.config.file) };
}

/**
 * How closely to look: `list` (the default) reads the engine's list calls, plus live limits for
 * the few environments whose labels are stale; `full` also inspects every environment container
 * for security drift (user, capabilities, security options, runtime).
 */
export type Refresh = 'list' | 'full';

/**
 * One snapshot of the engine, with live limits for the few environments whose labels are stale
 * and, given the config file (diagnostics point into it), the registries' digests (not for destroy).
 */
export async function observeFor(engine: Engine, desired: DesiredState, refreshMode: Refresh = 'list', registryFor: string | null = null): Promise<ObservedState> {
  const observed = await refresh(engine, desired, await observe(engine, desired.project), refreshMode);
  return registryFor === null ? observed : askRegistries(engine, desired, observed, registryFor);
}

async function refresh(engine: Engine, desired: DesiredState, observed: ObservedState, mode: Refresh = 'list'): Promise<ObservedState> {
  const refreshed = mode === 'full' ? checkProxyPolicies(engine, await inspectSecurity(engine, observed)) : refineStale(engine, desired, observed);
  return withPodmanBackend(engine, desired, await refreshed);
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

/**
 * The plan from one config to another with no engine (`diff`): planned against the engine as
 * `from` would have left it, so it lists exactly the actions apply would take. Secrets are
 * compared by name and by value only where a value can be read (none is needed); what the
 * engine offers (runtimes, referenced and shipped images) is taken as given. Build contexts
 * and `image: auto` marker files are read from the working tree for both sides. `labels` name
 * each side in diagnostics (e.g. `origin/main:sandboxshift.yaml`).
 */
export function planBetween(from: Config, to: Config, labels: { from: string; to: string } = { from: from.file, to: to.file }): Plan {
  const options = { secretsOptional: true } as const;
  const named = (diags: Diagnostic[], config: Config, label: string) => diags.map((d) => (d.file === config.file ? { ...d, file: label } : d));
  const before = resolveDesired(from, options);
  const after = resolveDesired(to, options);
  const errors = [
    ...named(before.diagnostics, from, labels.from).map((d) => ({ ...d, hint: `${d.hint ?? ''}${d.hint ? '; ' : ''}diff reads build contexts from the working tree, for both commits` })),
    ...named(after.diagnostics, to, labels.to),
  ].filter((d) => d.severity === 'error');
  if (errors.length) throw new DiagnosticsError(errors);
  const offered = {
    images: [...after.desired.images.values()].filter((i) => !i.build || i.builtin).map((i) => i.ref),
    runtimes: [...after.desired.environments.values()].map((d) => d.spec.runtime),
  };
  const assumed = observedFromDesired(before.desired, offered);
  // A new project name starts from nothing on the engine; only images and runtimes carry over.
  const renamed = from.project !== to.project;
  const observed = renamed ? { ...emptyObserved(to.project), images: assumed.images, runtimes: assumed.runtimes } : assumed;
  const p = makePlan(after.desired, observed);
  const notes = renamed
    ? [
        warningDiag(`project renamed from '${from.project}' to '${to.project}': apply creates every environment under the new name and leaves '${from.project}' running, with its workspace volumes`, {
          file: labels.to,
          path: 'project',
          hint: `destroy the old project with the previous config first (sandboxshift destroy), or keep the name`,
        }),
      ]
    : [];
  return { ...p, diagnostics: [...notes, ...named(after.diagnostics, to, labels.to), ...p.diagnostics] };
}

export interface PlanRequest {
  targets?: string[];
  destroy?: boolean;
  purgeVolumes?: boolean;
  /** How the observed state was read, recorded in the plan so `apply PLANFILE` looks as closely. */
  refresh?: Refresh;
}

export function planFor(loaded: Loaded, observed: ObservedState, req: PlanRequest = {}): Plan {
  const p = req.destroy ? planDestroy(loaded.desired, observed, { targets: req.targets, purgeVolumes: req.purgeVolumes }) : makePlan(loaded.desired, observed, { targets: req.targets });
  return { ...p, ...(req.refresh === 'full' ? { refresh: 'full' as const } : {}), diagnostics: [...loaded.warnings, ...p.diagnostics] };
}

/**
 * The image contract, checked before anything is created: for every image an environment is
 * about to be created on (and that is not built by this plan: builds are checked right after
 * building), probe it as its own USER (any other environment user is given /workspace when
 * its container is created). Makes engine calls only when the plan creates something.
 */
export async function checkImageContracts(engine: Engine, loaded: Loaded, plan: Plan): Promise<Diagnostic[]> {
  const probes = new Map<string, DesiredEnvironment[]>();
  for (const c of plan.changes) {
    if (c.type !== 'environment' || !c.steps.includes('create-container') || c.dependsOn.length > 0) continue;
    const d = loaded.desired.environments.get(c.name);
    if (!d) continue;
    // A host folder as /workspace replaces the image's: its writability is not the image's to offer.
    const key = `${d.spec.image}\u0000${d.spec.hostWorkspace ? 'host' : 'volume'}`;
    probes.set(key, [...(probes.get(key) ?? []), d]);
  }
  if (probes.size === 0) return [];
  const docker = await engine.docker();
  const out: Diagnostic[] = [];
  for (const envs of probes.values()) {
    const first = envs[0]!;
    const facts = await withEngine(() => probeImage(docker, first.spec.image));
    for (const v of contractViolations(facts).filter((v) => !(v.rule === 'workspace' && first.spec.hostWorkspace))) {
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
  options: { parallelism?: number; onEvent?: ApplyListener; stopGraceSeconds?: number; signal?: AbortSignal } = {},
): Promise<ApplyResult> {
  // The executor (and tar-stream, the seeding and build code) loads only when applying.
  const { executePlan } = await import('../apply/executor.js');
  return executePlan(plan, {
    engine: await engine.docker(),
    desired: loaded.desired,
    secrets: loaded.secrets,
    parallelism: options.parallelism ?? 10,
    onEvent: options.onEvent,
    stopGraceSeconds: options.stopGraceSeconds,
    signal: options.signal,
  });
}

export { connectEngine };
