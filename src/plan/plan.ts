// The planner: a pure function of (desired, observed, options). No engine calls, no clock.
import { errorDiag, type Diagnostic } from '../diagnostics.js';
import type { DesiredEnvironment, DesiredState } from '../model/desired.js';
import { containerName, environmentAddress, volumeName } from '../model/names.js';
import type { ObservedContainer, ObservedState } from '../model/observed.js';
import { observedFingerprint } from './fingerprint.js';
import { resourceReasons, sameResources, specReasons } from './reasons.js';
import { ACTIONS_BY_KIND, type Change, type ChangeKind, type EgressPlan, type Plan, type Reason, type Step } from './types.js';
import { desiredView, observedView } from './view.js';
import { shortId } from './format.js';
import { planImage } from './images.js';
import { securityNotes } from './security.js';
import { allocateSubnets, egressPlanFor, egressWork, outsideNetworkChange } from './egress.js';
import { EGRESS_IMAGE } from '../model/images.js';

export interface PlanOptions {
  /** Environment names to limit the plan to (`--target`). Empty: everything. */
  targets?: string[];
}

export function plan(desired: DesiredState, observed: ObservedState, options: PlanOptions = {}): Plan {
  const targets = options.targets ?? [];
  const diagnostics = [...checkTargets(desired, observed, targets), ...checkEngine(desired, observed)];
  const inScope = (env: string) => targets.length === 0 || targets.includes(env);
  const changes: Change[] = [];
  const envs = [...desired.environments.values()].sort(byName).filter((d) => inScope(d.name));
  // Images first: environments on a rebuilt image wait for its build.
  const builds = new Set<string>();
  const imageNames = envs.map((d) => d.imageName);
  if (envs.some((d) => d.egress.mode === 'allow')) imageNames.push(EGRESS_IMAGE);
  for (const name of [...new Set(imageNames)].sort()) {
    const image = desired.images.get(name);
    const change = image ? planImage(desired.project, image, observed, envs.filter((d) => d.imageName === name)) : null;
    if (change) {
      changes.push(change);
      builds.add(change.address);
    }
  }
  const subnets = allocateSubnets(desired, observed);
  if (typeof subnets === 'string') diagnostics.push(errorDiag(subnets, { hint: 'remove unused Docker networks in 10.213.0.0/16' }));
  const proxyImage = desired.images.get(EGRESS_IMAGE);
  let outside: Change | null = null;
  for (const d of envs) {
    const subnet = typeof subnets === 'string' ? undefined : subnets.get(d.name);
    const e = subnet && proxyImage ? egressPlanFor(desired.project, d, subnet, proxyImage.ref) : null;
    const change = planEnvironment(d, observed, e);
    const deps: string[] = [];
    if (builds.has(d.imageAddress) && change.steps.includes('create-container')) deps.push(d.imageAddress);
    if (change.steps.includes('create-proxy')) {
      if (proxyImage && builds.has(proxyImage.address)) deps.push(proxyImage.address);
      if (!observed.outsideNetwork) {
        outside ??= outsideNetworkChange(desired.project);
        deps.push(outside.address);
      }
    }
    change.dependsOn = [...new Set(deps)];
    changes.push(change);
  }
  if (outside) changes.unshift(outside);
  for (const c of [...observed.containers.values()].sort(byEnvironment)) {
    if (desired.environments.has(c.environment) || !inScope(c.environment)) continue;
    changes.push(deleteChange(observed.project, c, [{ code: 'removed_from_config', message: 'environment removed from config; /workspace volume kept' }], false, egressRemovals(c.environment, observed)));
  }
  for (const c of observed.duplicates) {
    if (!inScope(c.environment)) continue;
    changes.push({
      ...deleteChange(observed.project, c, [{ code: 'duplicate', message: `duplicate container ${c.name} for one environment` }]),
      address: `${environmentAddress(c.environment)}[duplicate ${shortId(c.id)}]`,
    });
  }
  return assemblePlan(desired, observed, 'normal', changes, diagnostics, targets);
}

/** The plan record around a list of changes, with what a saved plan needs to detect staleness. */
export function assemblePlan(
  desired: DesiredState,
  observed: ObservedState,
  mode: Plan['mode'],
  changes: Change[],
  diagnostics: Diagnostic[],
  targets: string[],
): Plan {
  return {
    project: desired.project,
    mode,
    changes,
    diagnostics,
    targets,
    sourceHash: desired.sourceHash,
    observedFingerprint: observedFingerprint(observed, [...desired.environments.values()].map((d) => d.spec.image)),
    engineVersion: observed.engineVersion,
  };
}

export function planEnvironment(d: DesiredEnvironment, observed: ObservedState, e: EgressPlan | null = null): Change {
  const c = observed.containers.get(d.name);
  const volumeExists = observed.volumes.has(d.name);
  const egress = egressWork(d, e, observed);
  // Network and proxy must exist before the container joins them; removals wait for it to go.
  const egressFirst = e ? egress.steps : [];
  const egressAfterRemoval = e ? [] : egress.steps;
  const base = {
    address: d.address,
    type: 'environment' as const,
    name: d.name,
    after: desiredView(d),
    containerName: d.containerName,
    volumeName: d.volumeName,
    resources: d.resources,
    configHash: d.configHash,
    imageRef: d.spec.image,
    verify: null,
    egress: e,
    security: egress.security,
    dependsOn: [],
  };
  // Creating the container creates its labelled volume when missing (one engine call).
  const seed = !volumeExists && (d.workspace.from !== undefined || d.workspace.git !== undefined);
  const createSteps = (): Step[] => [
    'create-container',
    ...(Object.keys(d.spec.secrets).length ? (['copy-secrets'] as Step[]) : []),
    // Only into a volume this change creates: a workspace is never overwritten.
    ...(seed ? (['seed-workspace'] as Step[]) : []),
    'start',
  ];
  if (!c) {
    const reasons: Reason[] = volumeExists
      ? [{ code: 'missing', message: `missing: container ${d.containerName} not found (removed outside sandboxshift, or destroyed); its /workspace volume is reused` }]
      : [{ code: 'new', message: 'new environment' }];
    return {
      ...base,
      ...kind('create'),
      reasons,
      security: [...egress.security, ...securityNotes(null, { spec: d.spec, protect: d.protect })],
      dataEffect: 'none',
      before: null,
      containerId: null,
      workspace: volumeExists ? 'reuse' : 'create',
      steps: [...egress.steps, ...createSteps()],
    };
  }
  const before = observedView(c);
  const common = { ...base, before, containerId: c.id, workspace: 'keep' as const };
  const replaceReasons = whyReplace(d, c, observed);
  if (egress.networkLost) replaceReasons.push({ code: 'missing', attribute: 'egress', message: 'internal network missing (removed outside sandboxshift)' });
  if (replaceReasons.length > 0) {
    return {
      ...common,
      ...kind('replace'),
      reasons: [...replaceReasons, ...egress.reasons],
      security: [...egress.security, ...securityNotes(c.spec ? { spec: c.spec, protect: c.protect } : null, { spec: d.spec, protect: d.protect })],
      dataEffect: 'recreate',
      steps: ['remove-container', ...egressAfterRemoval, ...egressFirst, ...createSteps()],
    };
  }
  // The allow list changes without touching the environment: only its proxy is recreated.
  const reasons: Reason[] = [...egress.reasons];
  const steps: Step[] = [...egress.steps];
  if (!sameResources(c.resources, d.resources)) {
    reasons.push(...(c.resources ? resourceReasons(c.resources, d.resources) : [{ code: 'resources_changed' as const, message: 'resources unknown on the engine' }]));
    steps.push('update-resources');
  }
  if (c.state === 'paused') {
    reasons.push({ code: 'stopped', message: 'paused outside sandboxshift' });
    steps.push('unpause');
  } else if (c.state !== 'running' && c.state !== 'restarting') {
    reasons.push({ code: 'stopped', message: `stopped outside sandboxshift (${c.status || c.state})` });
    steps.push('start');
  }
  // Dropping protect changes nothing on the engine now, but a reviewer must see it.
  const protectDropped = c.protect && !d.protect ? ['protect removed'] : [];
  if (steps.length === 0) return { ...common, ...kind('no-op'), reasons: [], security: protectDropped, dataEffect: 'none', steps };
  const k: ChangeKind = steps.includes('update-resources') || egress.steps.length > 0 ? 'update' : 'start';
  return { ...common, ...kind(k), reasons, security: [...egress.security, ...protectDropped], dataEffect: 'none', steps };
}

function whyReplace(d: DesiredEnvironment, c: ObservedContainer, observed: ObservedState): Reason[] {
  if (c.state === 'dead') return [{ code: 'missing', message: 'container is dead on the engine' }];
  if (!c.spec || !c.configHash) return [{ code: 'untracked_spec', message: 'container has no readable spec label (made by another version)' }];
  if (c.configHash !== d.configHash) return specReasons(c.spec, d.spec);
  const image = observed.images.get(d.spec.image);
  if (image && image.id !== c.imageId) {
    return [{ code: 'image_changed', attribute: 'image', message: `image ${d.spec.image} now points to ${shortId(image.id)} (container runs ${shortId(c.imageId)})` }];
  }
  return [];
}

/** The proxy and network an environment leaves behind when its container goes. */
export function egressRemovals(env: string, observed: ObservedState): Step[] {
  return [...(observed.proxies.has(env) ? (['remove-proxy'] as Step[]) : []), ...(observed.networks.has(env) ? (['remove-network'] as Step[]) : [])];
}

export function deleteChange(project: string, c: ObservedContainer, reasons: Reason[], purge = false, extraSteps: Step[] = []): Change {
  return {
    address: environmentAddress(c.environment),
    type: 'environment',
    name: c.environment,
    ...kind('delete'),
    reasons,
    dataEffect: purge ? 'destroys-workspace' : 'delete-keeps-workspace',
    before: observedView(c),
    after: null,
    containerId: c.id,
    containerName: c.name || containerName(project, c.environment),
    volumeName: volumeName(project, c.environment),
    workspace: purge ? 'delete' : 'keep',
    steps: ['remove-container', ...extraSteps, ...(purge ? (['remove-volume'] as Step[]) : [])],
    resources: null,
    configHash: null,
    imageRef: c.image,
    verify: null,
    egress: null,
    security: [],
    dependsOn: [],
  };
}

function kind(k: ChangeKind): { kind: ChangeKind; actions: Change['actions'] } {
  return { kind: k, actions: [...ACTIONS_BY_KIND[k]] };
}

function checkTargets(desired: DesiredState, observed: ObservedState, targets: string[]): Diagnostic[] {
  return targets
    .filter((t) => !desired.environments.has(t) && !observed.containers.has(t) && !observed.volumes.has(t))
    .map((t) =>
      errorDiag(`--target ${t}: no environment of that name in the config or on the engine`, {
        hint: `known environments: ${[...desired.environments.keys()].sort().join(', ') || '(none)'}`,
      }),
    );
}

/** What the engine must offer before anything is created: one diagnostic per missing thing. */
function checkEngine(desired: DesiredState, observed: ObservedState): Diagnostic[] {
  const missingRuntimes = new Map<string, string[]>();
  const missingImages = new Map<string, string[]>();
  const out: Diagnostic[] = [];
  for (const d of [...desired.environments.values()].sort(byName)) {
    if (!observed.runtimes.includes(d.spec.runtime)) push(missingRuntimes, d.spec.runtime, d.name);
    const built = desired.images.get(d.imageName)?.build;
    if (!built && !observed.images.has(d.spec.image)) push(missingImages, `'${d.imageName}' (${d.spec.image})`, d.name);
  }
  for (const [runtime, envs] of missingRuntimes) {
    out.unshift(
      errorDiag(`runtime '${runtime}' is not offered by the engine (it has: ${observed.runtimes.join(', ') || 'none'}); wanted by ${list(envs)}`, {
        hint: runtime === 'runsc'
          ? 'install gVisor (apt-get install runsc) and register it in /etc/docker/daemon.json, or run `npm run setup` as root'
          : 'pick a runtime the engine has',
      }),
    );
  }
  for (const [image, envs] of missingImages) {
    out.unshift(
      errorDiag(`image ${image} is not on the engine; wanted by ${list(envs)}`, {
        hint: 'build or load it first (`npm run setup` builds the test image), or point images.NAME.ref at an image the engine has',
      }),
    );
  }
  return out;
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function list(envs: string[]): string {
  const shown = envs.slice(0, 5).join(', ');
  return envs.length > 5 ? `${shown} and ${envs.length - 5} more` : shown;
}

const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
const byEnvironment = (a: { environment: string }, b: { environment: string }) => a.environment.localeCompare(b.environment);
