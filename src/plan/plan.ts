// The planner: a pure function of (desired, observed, options). No engine calls, no clock.
import { imageByRef, parseImageRef, pinnedRef, shortDigest } from '../config/image-ref.js';
import { errorDiag, warningDiag, type Diagnostic } from '../diagnostics.js';
import type { DesiredEnvironment, DesiredState } from '../model/desired.js';
import { containerName, environmentAddress, volumeName } from '../model/names.js';
import type { IdleMark, ObservedContainer, ObservedState } from '../model/observed.js';
import { observedFingerprint } from './fingerprint.js';
import { resourceReasons, sameResources, specReasons } from './reasons.js';
import { ACTIONS_BY_KIND, type Change, type ChangeKind, type EgressPlan, type EnvironmentChange, type EnvironmentStep, type Plan, type PlannedVolume, type Reason } from './types.js';
import { desiredView, observedView } from './view.js';
import { approxBytes, shortId } from './format.js';
import { planImage } from './images.js';
import { securityNotes } from './security.js';
import { allocateSubnets, egressPlanFor, egressWork, outsideNetworkChange } from './egress.js';
import { EGRESS_IMAGE } from '../model/images.js';
import { gatewayIsolationFor, needsIpv6Off, PODMAN_ISOLATING_BACKEND } from '../model/egress.js';
import { foreignVolumeProblem, moveSource, orphanNotes } from './workspace.js';
import { protectRecordRemoval, protectWork } from './protect.js';
import { securityDrift } from './drift.js';
import { dataVolumeOrphanNotes, foreignDataVolumeProblems, observedVolumes, plannedVolumes } from './volumes.js';

export interface PlanOptions {
  /** Environment names to limit the plan to (`--target`). Empty: everything. */
  targets?: string[];
}

export function plan(desired: DesiredState, observed: ObservedState, options: PlanOptions = {}): Plan {
  const targets = options.targets ?? [];
  const diagnostics = [...checkTargets(desired, observed, targets), ...checkEngine(desired, observed), ...checkNamesTaken(desired, observed, targets)];
  const inScope = (env: string) => targets.length === 0 || targets.includes(env);
  const changes: Change[] = [];
  const envs = [...desired.environments.values()].sort(byName).filter((d) => inScope(d.name));
  // Images first: environments on a rebuilt image wait for its build.
  const builds = new Set<string>();
  const imageNames = envs.map((d) => d.imageName);
  if (envs.some((d) => d.egress.mode === 'allow')) imageNames.push(EGRESS_IMAGE);
  for (const name of [...new Set(imageNames)].sort()) {
    const image = desired.images.get(name);
    const change = image
      ? planImage(
          desired.project,
          image,
          observed,
          envs.filter((d) => d.imageName === name),
        )
      : null;
    if (change) {
      changes.push(change);
      builds.add(change.address);
    }
  }
  const subnets = allocateSubnets(desired, observed);
  if (typeof subnets === 'string') diagnostics.push(errorDiag(subnets, { hint: 'remove unused Docker networks in 10.213.0.0/16' }));
  const proxyImage = desired.images.get(EGRESS_IMAGE);
  // Null on Podman without CNI: checkPodman refuses egress there (an error: nothing is shown or applied).
  const gatewayIsolation = gatewayIsolationFor(observed) ?? 'cni-no-gateway';
  let outside: Change | null = null;
  for (const d of envs) {
    const foreign = [d.spec.hostWorkspace ? null : foreignVolumeProblem(d, observed), ...foreignDataVolumeProblems(d, observed)].filter((p): p is Diagnostic => p !== null);
    if (foreign.length) {
      diagnostics.push(...foreign);
      continue;
    }
    const subnet = typeof subnets === 'string' ? undefined : subnets.get(d.name);
    const e = subnet && proxyImage ? egressPlanFor(desired.project, d, subnet, proxyImage.ref, observed.networks.get(d.name)?.isolation ?? gatewayIsolation) : null;
    const move = d.spec.hostWorkspace ? hostWorkspaceMove(d, desired) : moveSource(d, desired, observed);
    if (move.diagnostic) diagnostics.push(move.diagnostic);
    const change = planEnvironment(d, observed, e, move.source);
    const remote = observed.registry?.get(d.spec.image);
    if (remote?.digest && change.after) change.after = { ...change.after, imageDigest: remote.digest };
    const deps: string[] = [];
    // The old environment's container stops before its workspace is copied.
    if (change.steps.includes('copy-workspace') && change.movedFrom && observed.containers.has(change.movedFrom.environment)) {
      const old = change.movedFrom.environment;
      if (!inScope(old)) {
        diagnostics.push(
          errorDiag(`--target ${d.name}: its workspace is copied from '${old}' (moved), whose container must stop first`, {
            hint: `add --target ${old}, so the copy is not taken while '${old}' still writes to it`,
          }),
        );
      }
      deps.push(environmentAddress(old));
    }
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
    const movedTo = [...desired.moved].find(([, from]) => from === c.environment)?.[0];
    const why = movedTo ? `moved to environment.${movedTo} (moved): container removed; /workspace volume kept and copied` : 'environment removed from config; /workspace volume kept';
    const extra = [...egressRemovals(c.environment, observed), ...protectRecordRemoval(c.environment, observed, false)];
    changes.push(deleteChange(observed.project, c, [{ code: movedTo ? 'moved' : 'removed_from_config', message: why }], false, extra, observedVolumes(c.environment, observed, false)));
  }
  diagnostics.push(...orphanNotes(desired, observed, inScope), ...dataVolumeOrphanNotes(desired, observed, inScope));
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
export function assemblePlan(desired: DesiredState, observed: ObservedState, mode: Plan['mode'], changes: Change[], diagnostics: Diagnostic[], targets: string[]): Plan {
  return {
    project: desired.project,
    mode,
    changes,
    diagnostics,
    targets,
    sourceHash: desired.sourceHash,
    observedFingerprint: observedFingerprint(
      observed,
      [...desired.environments.values()].map((d) => d.spec.image),
    ),
    engineVersion: observed.engineVersion,
  };
}

export function planEnvironment(d: DesiredEnvironment, observed: ObservedState, e: EgressPlan | null = null, moved: { environment: string; volume: string } | null = null): EnvironmentChange {
  const c = observed.containers.get(d.name);
  // A host folder as /workspace: no workspace volume is made, reused or filled.
  const host = d.spec.hostWorkspace ?? null;
  const volume = host ? undefined : observed.volumes.get(d.name);
  // A volume we did not create counts as existing: it is never seeded (see foreignVolumeProblem).
  const adopted = !host && !volume && observed.foreignVolumes.has(d.name);
  const volumeExists = !!volume || adopted;
  // A fill (seed or moved copy) that an earlier apply began and never finished: its record is
  // still on the engine. The fill is done again into the same volume (files of the same name
  // overwritten, nothing deleted); with no fill left in the config, the record is just cleared.
  const pending = !!volume && observed.filling.has(d.name);
  const egress = egressWork(d, e, observed);
  // Network and proxy must exist before the container joins them; removals wait for it to go.
  const egressFirst = e ? egress.steps : [];
  const egressAfterRemoval = e ? [] : egress.steps;
  const protect = protectWork(d, observed);
  const base = {
    address: d.address,
    type: 'environment' as const,
    name: d.name,
    after: desiredView(d),
    containerName: d.containerName,
    volumeName: host ? '' : d.volumeName,
    ...(host ? { hostWorkspace: { path: host, uid: d.uid, gid: d.gid } } : {}),
    resources: d.resources,
    configHash: d.configHash,
    imageRef: d.spec.image,
    egress: e,
    security: egress.security,
    dependsOn: [],
    ...withVolumes(plannedVolumes(d, observed)),
  };
  // Creating the container creates its labelled volume when missing (one engine call).
  // Only into a volume this change creates, or one whose fill never finished: a workspace in
  // use is never overwritten. The record goes up before the first write and comes down after
  // the last, so a fill cut short anywhere is seen by the next plan.
  const copy = (!volumeExists || pending) && moved !== null;
  const seed = (!volumeExists || pending) && !copy && hasSeed(d);
  const fill = copy || seed;
  const createSteps = (): EnvironmentStep[] => [
    ...(fill ? (['mark-filling'] as EnvironmentStep[]) : []),
    'create-container',
    ...(Object.keys(d.spec.secrets).length ? (['copy-secrets'] as EnvironmentStep[]) : []),
    ...(copy ? (['copy-workspace'] as EnvironmentStep[]) : []),
    ...(seed ? (['seed-workspace'] as EnvironmentStep[]) : []),
    ...(fill || pending ? (['mark-filled'] as EnvironmentStep[]) : []),
    'start',
  ];
  const pendingReason: Reason[] = pending
    ? [
        {
          code: 'incomplete',
          message: fill
            ? `its /workspace was never completely filled (an earlier apply was interrupted): the ${copy ? 'copy' : 'seed'} is done again into it (files of the same name overwritten, nothing deleted)`
            : 'its /workspace was never completely filled (an earlier apply was interrupted), and the config no longer fills it: it is kept as it is',
        },
      ]
    : [];
  const movedFrom = copy ? moved : null;
  const movedReason: Reason[] = movedFrom
    ? [{ code: 'moved', message: `moved from environment.${movedFrom.environment}: its /workspace (${movedFrom.volume}) is copied into the new volume, and kept` }]
    : [];
  if (!c) {
    const reasons: Reason[] = adopted
      ? [{ code: 'adopted', message: `adopts volume ${d.volumeName}, which sandboxshift did not create: mounted as /workspace as it is (nothing seeded; never purged)` }]
      : pending
        ? [{ code: 'missing', message: `missing: container ${d.containerName} not found` }, ...pendingReason]
        : volumeExists
          ? [{ code: 'missing', message: `missing: container ${d.containerName} not found (removed outside sandboxshift, or destroyed); its /workspace volume is reused` }]
          : movedFrom
            ? movedReason
            : [{ code: 'new', message: 'new environment' }];
    return {
      ...base,
      movedFrom,
      ...kind('create'),
      reasons: [...reasons, ...egress.reasons, ...protect.reasons],
      security: [...protect.security, ...egress.security, ...securityNotes(null, { spec: d.spec, protect: d.protect })],
      dataEffect: 'none',
      before: null,
      containerId: null,
      workspace: host ? 'keep' : volumeExists ? 'reuse' : 'create',
      steps: [...protect.steps, ...egress.steps, ...createSteps()],
    };
  }
  const seen = observedView(c);
  const before = seen && protect.current !== null ? { ...seen, protect: protect.current } : seen;
  const common = { ...base, before, containerId: c.id, workspace: 'keep' as const };
  const drift = securityDrift(observed.project, c, c.configHash === d.configHash, observed.networks.get(d.name)?.subnets[0]);
  const replaceReasons = [...whyReplace(d, c, observed), ...drift.reasons];
  // Podman 4.3 has no in-place update in its Docker API, and its own neither keeps the new limits
  // across a restart nor shows them in inspect: a change of limits there is a replacement.
  if (observed.engineFlavour === 'podman' && c.resources && !sameResources(c.resources, d.resources)) {
    replaceReasons.push(...resourceReasons(c.resources, d.resources).map((r) => ({ ...r, message: `${r.message} (Podman cannot change limits in place)` })));
  }
  if (e && needsIpv6Off(e.gatewayIsolation) && c.ipv6Off === false) {
    replaceReasons.push({
      code: 'egress_proxy',
      attribute: 'egress',
      message: "sandbox made without IPv6 off (no io.sandboxshift.ipv6=off label): it could reach the host over the bridge's IPv6 link-local address; made again with IPv6 off",
    });
  }
  if (egress.networkLost) {
    replaceReasons.push(
      observed.networks.has(d.name)
        ? { code: 'egress_proxy', attribute: 'egress', message: 'the container joins its network made again' }
        : { code: 'missing', attribute: 'egress', message: 'internal network missing (removed outside sandboxshift)' },
    );
  }
  // A fill that never finished is done again with a new container, even a started one.
  if (replaceReasons.length > 0 || (pending && fill)) {
    return {
      ...common,
      ...kind('replace'),
      reasons: [...replaceReasons, ...pendingReason, ...egress.reasons, ...movedReason, ...protect.reasons],
      security: [...drift.security, ...egress.security, ...securityNotes(c.spec ? { spec: c.spec, protect: protect.current === true } : null, { spec: d.spec, protect: d.protect })],
      dataEffect: 'recreate',
      movedFrom,
      steps: [...protect.steps, 'remove-container', ...egressAfterRemoval, ...egressFirst, ...createSteps()],
    };
  }
  // The allow list changes without touching the environment: only its proxy reloads (or is recreated).
  const reasons: Reason[] = [...egress.reasons, ...protect.reasons, ...pendingReason];
  const steps: EnvironmentStep[] = [...protect.steps, ...egress.steps, ...(pending ? (['mark-filled'] as EnvironmentStep[]) : [])];
  if (c.name !== d.containerName && !observed.nameHolders?.has(d.containerName)) {
    reasons.push({ code: 'renamed', message: `renamed outside sandboxshift to ${c.name}` });
    steps.push('rename-container');
  }
  if (!sameResources(c.resources, d.resources)) {
    reasons.push(...(c.resources ? resourceReasons(c.resources, d.resources) : [{ code: 'resources_changed' as const, message: 'resources unknown on the engine' }]));
    steps.push('update-resources');
  }
  // Stopped or paused by an idle policy (recorded on the engine): not drift; `wake` starts it.
  const idle = observed.idle?.get(d.name);
  const idleReason: Reason[] = idle && idle.containerId === c.id ? [idleStopped(idle)] : [];
  // Paused by a `sandboxshift cp` while it copies (recorded on the engine): not drift either.
  const copying = observed.copying?.get(d.name);
  const copyingNow = c.state === 'paused' && copying?.containerId === c.id;
  if (idleReason.length) {
    // nothing to start: it stays as the policy left it
  } else if (copyingNow && copying.live) {
    idleReason.push({ code: 'copying', message: `paused while sandboxshift cp copies (pid ${copying.pid} on ${copying.holder}, since ${copying.since})` });
  } else if (c.state === 'paused') {
    reasons.push({ code: 'stopped', message: copyingNow ? `paused by a sandboxshift cp that is gone (pid ${copying.pid} on ${copying.holder})` : 'paused outside sandboxshift' });
    steps.push('unpause');
  } else if (c.state !== 'running' && c.state !== 'restarting') {
    reasons.push({ code: 'stopped', message: `stopped outside sandboxshift (${c.status || c.state})` });
    steps.push('start');
  }
  if (steps.length === 0) return { ...common, ...kind('no-op'), reasons: idleReason, security: [], dataEffect: 'none', steps };
  const k: ChangeKind = steps.some((s) => s !== 'start' && s !== 'unpause') ? 'update' : 'start';
  return { ...common, ...kind(k), reasons, security: [...protect.security, ...egress.security], dataEffect: 'none', steps };
}

/** `stopped (idle since …, by policy)`: what plan and status say of an environment an idle policy stopped or paused. */
export function idleStopped(mark: IdleMark): Reason {
  return { code: 'idle', message: `${mark.action === 'pause' ? 'paused' : 'stopped'} (idle since ${mark.since}, by policy); sandboxshift wake ${mark.environment} starts it` };
}

function whyReplace(d: DesiredEnvironment, c: ObservedContainer, observed: ObservedState): Reason[] {
  if (c.state === 'dead') return [{ code: 'missing', message: 'container is dead on the engine' }];
  if (c.state === 'created') {
    return [{ code: 'incomplete', message: 'never started: an earlier apply was interrupted or failed before it finished (it is made again, secrets and start included)' }];
  }
  if (!c.spec || !c.configHash) return [{ code: 'untracked_spec', message: 'container has no readable spec label (made by another version)' }];
  if (c.configHash !== d.configHash) return specReasons(c.spec, d.spec);
  const moved = digestMoved(d.spec.image, c, observed);
  if (moved) return [moved];
  const image = imageByRef(observed.images, d.spec.image);
  if (image && image.id !== c.imageId) {
    return [{ code: 'image_changed', attribute: 'image', message: `image ${d.spec.image} now points to ${shortId(image.id)} (container runs ${shortId(c.imageId)})` }];
  }
  return [];
}

/** When the registry names a digest the container's image does not carry: `image digest changed`. */
function digestMoved(ref: string, c: ObservedContainer, observed: ObservedState): Reason | null {
  const remote = observed.registry?.get(ref);
  const parsed = parseImageRef(ref);
  if (!remote?.digest || typeof parsed === 'string') return null;
  const running = observed.images.get(c.imageId)?.digests ?? [];
  if (running.includes(pinnedRef(parsed, remote.digest))) return null;
  const was = running.find((r) => r.startsWith(`${parsed.repository}@`));
  const from = was ? shortDigest(was.slice(was.indexOf('@') + 1)) : `image ${shortId(c.imageId)}`;
  return { code: 'image_changed', attribute: 'image', message: `image digest changed: ${ref} now points to ${shortDigest(remote.digest)} (container runs ${from})` };
}

/** The proxy (and its policy records) and network an environment leaves behind when its container goes. */
export function egressRemovals(env: string, observed: ObservedState): EnvironmentStep[] {
  const proxy = observed.proxies.has(env) || !!observed.egressPolicyRecords?.has(env);
  return [...(proxy ? (['remove-proxy'] as EnvironmentStep[]) : []), ...(observed.networks.has(env) ? (['remove-network'] as EnvironmentStep[]) : [])];
}

export function deleteChange(project: string, c: ObservedContainer, reasons: Reason[], purge = false, extraSteps: EnvironmentStep[] = [], volumes: PlannedVolume[] = []): EnvironmentChange {
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
    steps: ['remove-container', ...extraSteps, ...(purge ? (['remove-volume'] as EnvironmentStep[]) : [])],
    ...withVolumes(volumes),
    resources: null,
    configHash: null,
    imageRef: c.image,
    egress: null,
    security: purge ? [WORKSPACE_DELETED] : [],
    dependsOn: [],
  };
}

/** `moved` into an environment whose /workspace is a host folder: nothing is copied into the host's files. */
function hostWorkspaceMove(d: DesiredEnvironment, desired: DesiredState): { source: null; diagnostic: Diagnostic | null } {
  const from = desired.moved.get(d.name);
  if (!from) return { source: null, diagnostic: null };
  return {
    source: null,
    diagnostic: warningDiag(`moved: '${d.name}' uses a host folder as /workspace, so the workspace of '${from}' is not copied into it`, {
      path: 'moved',
      hint: `copy what you need from ss.${desired.project}.${from}.workspace by hand, then remove the moved entry`,
    }),
  };
}

/** A change's `volumes` field: absent when the environment has none, so plans without any read back the same. */
function withVolumes(volumes: PlannedVolume[]): { volumes?: PlannedVolume[] } {
  return volumes.length ? { volumes } : {};
}

/** The security note every renderer shows first for a change that deletes a workspace. */
export const WORKSPACE_DELETED = '/workspace volume will be DELETED';

function kind(k: ChangeKind): { kind: ChangeKind; actions: Change['actions'] } {
  return { kind: k, actions: [...ACTIONS_BY_KIND[k]] };
}

export function checkTargets(desired: DesiredState, observed: ObservedState, targets: string[]): Diagnostic[] {
  return targets
    .filter((t) => !desired.environments.has(t) && !observed.containers.has(t) && !observed.volumes.has(t) && !observed.dataVolumes?.has(t))
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
    if (!built && !imageByRef(observed.images, d.spec.image) && !observed.registry?.get(d.spec.image)?.digest) push(missingImages, `'${d.imageName}' (${d.spec.image})`, d.name);
  }
  for (const [runtime, envs] of missingRuntimes) {
    out.unshift(
      errorDiag(`runtime '${runtime}' is not offered by the engine (it has: ${observed.runtimes.join(', ') || 'none'}); wanted by ${list(envs)}`, {
        hint: runtime === 'runsc' ? 'install gVisor (apt-get install runsc) and register it in /etc/docker/daemon.json, or run `npm run setup` as root' : 'pick a runtime the engine has',
      }),
    );
  }
  out.push(...checkCapacity(desired, observed), ...checkPodman(desired, observed));
  for (const [image, envs] of missingImages) {
    out.unshift(
      errorDiag(`image ${image} is not on the engine; wanted by ${list(envs)}`, {
        hint: 'build or load it first (`npm run setup` builds the test image), point images.NAME.ref at an image the engine has, or let plan pull it (pull: if-not-present or always, with a pullSecret for a private registry)',
      }),
    );
  }
  return out;
}

/** What SandboxShift cannot keep its promises for on Podman (README "Podman"): refused before anything is made. */
function checkPodman(desired: DesiredState, observed: ObservedState): Diagnostic[] {
  if (observed.engineFlavour !== 'podman') return [];
  const envs = [...desired.environments.values()].sort(byName);
  const egress = envs.filter((d) => d.spec.network === 'egress').map((d) => d.name);
  const runsc = envs.filter((d) => d.spec.runtime === 'runsc').map((d) => d.name);
  const out: Diagnostic[] = [];
  const backend = observed.podmanNetworkBackend;
  if (egress.length && backend !== PODMAN_ISOLATING_BACKEND) {
    out.push(
      errorDiag(
        `egress is not available on Podman with the ${backend ?? 'unknown'} network backend: it gives the host an address on every network, internal ones too, so the sandbox could reach host services past its proxy; wanted by ${list(egress)}`,
        {
          hint: 'set `network_backend = "cni"` under [network] in /etc/containers/containers.conf and restart the Podman service (`sudo scripts/setup-podman.sh` does both), use a Docker engine, or give these environments no network (remove `egress`); see README "Podman"',
        },
      ),
    );
  }
  if (runsc.length) {
    out.push(
      errorDiag(`runtime 'runsc' does not run under Podman's Docker API: its containers fail with "cannot run with network enabled in root network namespace"; wanted by ${list(runsc)}`, {
        hint: 'use runtime runc on Podman, or a Docker engine with runsc registered; see README "Podman"',
      }),
    );
  }
  return out;
}

/** Limits the engine's host cannot give: Docker refuses more CPUs than it has, and more memory is no limit. */
function checkCapacity(desired: DesiredState, observed: ObservedState): Diagnostic[] {
  const capacity = observed.capacity;
  if (!capacity) return [];
  const out: Diagnostic[] = [];
  for (const d of [...desired.environments.values()].sort(byName)) {
    if (d.resources.cpus > capacity.cpus) {
      out.push(
        errorDiag(`environment '${d.name}' asks for ${d.resources.cpus} cpus, but the engine has ${capacity.cpus}`, {
          path: `environments.${d.name}.resources.cpus`,
          hint: `lower resources.cpus to at most ${capacity.cpus}, or use an engine with more CPUs`,
        }),
      );
    }
    if (d.resources.memoryBytes > capacity.memoryBytes) {
      out.push(
        errorDiag(`environment '${d.name}' asks for ${approxBytes(d.resources.memoryBytes)} of memory, but the engine has ${approxBytes(capacity.memoryBytes)}`, {
          path: `environments.${d.name}.resources.memory`,
          hint: `lower resources.memory (the engine has ${approxBytes(capacity.memoryBytes)} in all), or use an engine with more memory`,
        }),
      );
    }
  }
  return out;
}

/**
 * An environment container renamed outside sandboxshift whose name another container took
 * since: it cannot be renamed back, and a container created under that name would fail.
 */
function checkNamesTaken(desired: DesiredState, observed: ObservedState, targets: string[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const d of [...desired.environments.values()].sort(byName)) {
    const c = observed.containers.get(d.name);
    const holder = observed.nameHolders?.get(d.containerName);
    if (!c || !holder || holder === c.id || (targets.length > 0 && !targets.includes(d.name))) continue;
    out.push(
      errorDiag(`environment '${d.name}' was renamed outside sandboxshift to ${c.name}, and its name ${d.containerName} is now taken by another container (${shortId(holder)})`, {
        path: `environments.${d.name}`,
        hint: `rename or remove that container (docker rename ${shortId(holder)} NEW_NAME), then plan again; sandboxshift will rename ${c.name} back`,
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

function hasSeed(d: DesiredEnvironment): boolean {
  return d.workspace.from !== undefined || d.workspace.git !== undefined;
}

// Names are [a-z0-9-] (the schema's pattern), where code-unit order is the collator's order;
// localeCompare would load ICU's collation data, some 30 ms of a 1,000-environment plan.
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byName = (a: { name: string }, b: { name: string }) => byCodeUnits(a.name, b.name);
const byEnvironment = (a: { environment: string }, b: { environment: string }) => byCodeUnits(a.environment, b.environment);
