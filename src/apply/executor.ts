// The executor walks the plan's dependency graph with bounded parallelism and runs each
// change's steps in order. It makes no decisions: the steps are the plan's.
import { copyHoldsPause } from '../engine/copying-record.js';
import { parseImageRef } from '../config/image-ref.js';
import { pullDigest, pushImage } from '../engine/registry.js';
import { readPullAuth } from '../model/pull-auth.js';
import { engineMessage, operations, type Docker } from '../engine/index.js';
import type { DesiredState, SecretValues } from '../model/desired.js';
import type { Change, EnvironmentChange, EnvironmentStep, ImageChange, ImageStep, NetworkChange, NetworkStep, Plan, Step } from '../plan/types.js';
import { imageWork, type ApplyListener, type ApplyResult } from './events.js';
import { buildImage } from '../engine/build.js';
import { buildSharedImage } from '../engine/shared-build.js';
import { createEnvironmentNetwork, createOutsideNetwork, createProxy, reloadProxy, removeNetwork, removeOutsideNetwork, removeProxy } from '../engine/egress-ops.js';
import { removeActivityRecords } from '../engine/idle-record.js';
import { networkName, proxyName } from '../model/names.js';
import { probeImage } from '../engine/image-probe.js';
import { copyWorkspace, removeCopyHelper, seedWorkspace } from '../engine/seed.js';
import { markFilled, markFilling } from '../engine/fill-record.js';
import { recordProtect, removeProtectRecords } from '../engine/protect-record.js';
import { contractViolations } from '../plan/contract.js';
import { openSeedSource } from '../workspace/source.js';
import { prepareUser } from '../engine/user-setup.js';
import { ownedMountRoots } from '../model/owned-roots.js';

export interface ExecutorContext {
  engine: Docker;
  desired: DesiredState;
  secrets: SecretValues;
  parallelism: number;
  onEvent?: ApplyListener;
  /** Seconds a container gets between SIGTERM and SIGKILL when removed. */
  stopGraceSeconds?: number;
  /** Once aborted, no further change starts (each is reported skipped); those running finish. */
  signal?: AbortSignal;
}

export async function executePlan(plan: Plan, ctx: ExecutorContext): Promise<ApplyResult> {
  const work = plan.changes.filter((c) => c.steps.length > 0);
  const result: ApplyResult = { completed: [], failed: [], skipped: [] };
  const emit = ctx.onEvent ?? (() => {});
  // A plan the walk cannot honour runs not at all: every change fails with the reason.
  const refusal = planRefusal(plan.changes, work);
  if (refusal) {
    for (const c of work) {
      result.failed.push({ address: c.address, kind: c.kind, step: null, error: refusal });
      emit({ type: 'change-failed', address: c.address, kind: c.kind, elapsedMs: 0, step: null, error: refusal });
    }
    return result;
  }
  const state = new Map<string, 'pending' | 'running' | 'done' | 'failed'>(work.map((c) => [c.address, 'pending']));
  const limit = Math.max(1, ctx.parallelism);
  const removing = removeDeletedContainersEarly(work, ctx);

  await new Promise<void>((resolveAll) => {
    let running = 0;
    const pump = () => {
      for (const c of work) {
        if (state.get(c.address) !== 'pending') continue;
        const failedDep = c.dependsOn.find((d) => state.get(d) === 'failed');
        if (failedDep) {
          state.set(c.address, 'failed');
          const because = `depends on ${failedDep}, which failed`;
          result.skipped.push({ address: c.address, kind: c.kind, because });
          emit({ type: 'change-skipped', address: c.address, kind: c.kind, because });
          continue;
        }
        if (ctx.signal?.aborted) {
          state.set(c.address, 'failed');
          const because = 'not started: the run was stopped';
          result.skipped.push({ address: c.address, kind: c.kind, because });
          emit({ type: 'change-skipped', address: c.address, kind: c.kind, because });
          continue;
        }
        if (running >= limit) continue;
        if (!c.dependsOn.every((d) => !state.has(d) || state.get(d) === 'done')) continue;
        state.set(c.address, 'running');
        running++;
        void runChange(c, ctx, emit, removing.get(c.address)).then((outcome) => {
          running--;
          if (outcome.ok) {
            state.set(c.address, 'done');
            result.completed.push({ address: c.address, kind: c.kind, containerId: outcome.containerId, ...(c.type === 'image' ? { image: imageWork(c.steps) } : {}) });
          } else {
            state.set(c.address, 'failed');
            result.failed.push({ address: c.address, kind: c.kind, step: outcome.step, error: outcome.error });
          }
          pump();
        });
      }
      if (running === 0) resolveAll();
    };
    pump();
  });
  // The graph was checked above, so nothing should be left waiting; if something is, it is
  // reported rather than lost.
  for (const c of work) {
    if (state.get(c.address) !== 'pending') continue;
    const because = `never became ready: waiting on ${c.dependsOn.filter((d) => state.get(d) !== 'done').join(', ')}`;
    result.skipped.push({ address: c.address, kind: c.kind, because });
    emit({ type: 'change-skipped', address: c.address, kind: c.kind, because });
  }
  return result;
}

/**
 * Why the plan cannot be walked, or null: two changes with one address (one would shadow the
 * other in the walk), or a dependency cycle among the changes to run (none of its members could
 * ever start). compose's topologicalSort refuses cycles the same way.
 */
export function planRefusal(all: readonly Change[], work: readonly Change[]): string | null {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const c of all) {
    if (seen.has(c.address)) duplicates.add(c.address);
    seen.add(c.address);
  }
  if (duplicates.size > 0) {
    return `plan refused, nothing was run: more than one change has the address ${[...duplicates].map((a) => `'${a}'`).join(', ')}; plan again`;
  }
  const cycle = findCycle(work);
  return cycle ? `plan refused, nothing was run: dependency cycle ${cycle.join(' -> ')}; plan again` : null;
}

/** One dependency cycle among the changes (as addresses, first repeated last), or null. */
function findCycle(changes: readonly Change[]): string[] | null {
  const byAddress = new Map(changes.map((c) => [c.address, c]));
  const mark = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (address: string): string[] | null => {
    const m = mark.get(address);
    if (m === 'done') return null;
    if (m === 'visiting') return [...path.slice(path.indexOf(address)), address];
    mark.set(address, 'visiting');
    path.push(address);
    for (const d of byAddress.get(address)?.dependsOn ?? []) {
      if (!byAddress.has(d)) continue;
      const found = visit(d);
      if (found) return found;
    }
    path.pop();
    mark.set(address, 'done');
    return null;
  };
  for (const c of changes) {
    const found = visit(c.address);
    if (found) return found;
  }
  return null;
}

/** Container removals in flight at once: docker compose's own default limit (COMPOSE_PARALLEL_LIMIT). */
export const REMOVALS_IN_FLIGHT = 64;

/**
 * Removing a deleted environment's container is mostly waiting: for its processes to exit (up
 * to the grace period) and for the engine to tear it down. Holding a --parallelism slot through
 * that made destroy of 40 environments 2.5 times slower than `docker compose down`, which
 * stops, then removes, everything at once. So every delete that waits for nothing has its
 * container stopped (gracefully, as always) and removed from the start of the walk,
 * REMOVALS_IN_FLIGHT at a time; its remove-container step awaits that, and fails with its
 * error, before the rest of its steps (proxy, network, volume) run on its turn. A replacement
 * is not started early: its downtime begins on its turn.
 */
function removeDeletedContainersEarly(work: readonly Change[], ctx: ExecutorContext): Map<string, Promise<void>> {
  const early = new Map<string, Promise<void>>();
  let inFlight = 0;
  const waiting: Array<() => void> = [];
  const slot = async () => {
    while (inFlight >= REMOVALS_IN_FLIGHT) await new Promise<void>((r) => waiting.push(r));
    inFlight++;
  };
  for (const c of work) {
    if (c.type !== 'environment' || c.kind !== 'delete' || c.steps[0] !== 'remove-container' || c.dependsOn.length > 0) continue;
    const id = c.containerId;
    if (!id) continue;
    const removed = (async () => {
      await slot();
      try {
        await operations.removeContainer(ctx.engine, id, ctx.stopGraceSeconds);
      } finally {
        inFlight--;
        waiting.shift()?.();
      }
    })();
    // Not lost: the change's remove-container step awaits this promise and fails with its error.
    removed.catch(() => undefined);
    early.set(c.address, removed);
  }
  return early;
}

type Outcome = { ok: true; containerId: string | null } | { ok: false; step: Step; error: string };

/** Runs one step and returns the container the change acts on from then on. */
type StepRunner<S extends Step> = (step: S, id: string | null) => Promise<string | null>;

// Each type of change has its own steps and runner, so a step meets only the fields its type
// guarantees: what would be a runtime "internal" error is a compile error.
function runChange(c: Change, ctx: ExecutorContext, emit: ApplyListener, removed?: Promise<void>): Promise<Outcome> {
  switch (c.type) {
    case 'environment':
      return runSteps(c, c.steps, c.containerId, (step, id) => runEnvironmentStep(step, c, id, ctx, emit, removed), emit);
    case 'image':
      return runSteps(c, c.steps, null, (step) => runImageStep(step, c, ctx, emit), emit);
    case 'network':
      return runSteps(c, c.steps, null, (step) => runNetworkStep(step, c, ctx), emit);
  }
}

async function runSteps<S extends Step>(c: Change, steps: readonly S[], containerId: string | null, run: StepRunner<S>, emit: ApplyListener): Promise<Outcome> {
  const started = Date.now();
  const image = c.type === 'image' ? { image: imageWork(c.steps) } : {};
  emit({ type: 'change-start', address: c.address, kind: c.kind, ...image });
  let id = containerId;
  for (const step of steps) {
    emit({ type: 'step', address: c.address, step });
    try {
      id = await run(step, id);
    } catch (err) {
      const error = engineMessage(err);
      emit({ type: 'change-failed', address: c.address, kind: c.kind, elapsedMs: Date.now() - started, step, error, ...image });
      return { ok: false, step, error };
    }
  }
  emit({ type: 'change-done', address: c.address, kind: c.kind, elapsedMs: Date.now() - started, containerId: id, ...image });
  return { ok: true, containerId: id };
}

async function runEnvironmentStep(step: EnvironmentStep, c: EnvironmentChange, id: string | null, ctx: ExecutorContext, emit: ApplyListener, removed?: Promise<void>): Promise<string | null> {
  const { engine } = ctx;
  // What the plan cannot carry (the desired state, a container made by an earlier step) is
  // still checked here.
  const desired = () => {
    const d = ctx.desired.environments.get(c.name);
    if (!d) throw new Error(`internal: no desired state for ${c.address}`);
    return d;
  };
  const egress = () => {
    if (!c.egress) throw new Error(`internal: ${c.address} has no egress plan`);
    return c.egress;
  };
  const need = (): string => {
    if (!id) throw new Error(`internal: step ${step} of ${c.address} has no container`);
    return id;
  };
  switch (step) {
    case 'remove-container':
      await (removed ?? operations.removeContainer(engine, need(), ctx.stopGraceSeconds));
      return null;
    case 'create-container': {
      // The user is set up in the same step, before any start: a run cut short between the two
      // leaves a never-started container, which the next plan replaces.
      const d = desired();
      const created = await operations.createContainer(engine, ctx.desired.project, d, c.egress, c.movedFrom?.environment ?? null);
      await prepareUser(engine, created, d.uid, d.gid, ownedMountRoots(d));
      return created;
    }
    case 'copy-secrets': {
      const d = desired();
      await operations.copySecrets(engine, need(), ctx.secrets.get(c.name) ?? [], d.uid, d.gid);
      return id;
    }
    case 'start':
      await operations.startContainer(engine, need());
      return id;
    case 'unpause':
      // Planned before a cp paused it to copy (its record came after the plan's look): that
      // pause is the cp's to end, when its copy is done.
      if (!(await copyHoldsPause(engine, ctx.desired.project, c.name, need()))) await operations.unpauseContainer(engine, need());
      return id;
    case 'rename-container':
      await operations.renameContainer(engine, need(), c.containerName);
      return id;
    case 'update-resources':
      if (!c.resources) throw new Error(`internal: update of ${c.address} without resources`);
      await operations.updateResources(engine, need(), c.resources, desired().spec.runtime);
      return id;
    case 'remove-volume':
      // A copy helper left by an interrupted move would keep the volume in use.
      if (c.volumeName) {
        await removeCopyHelper(engine, ctx.desired.project, c.volumeName);
        await operations.removeVolume(engine, c.volumeName);
      }
      // The environment's other named volumes: only those the plan says are deleted.
      for (const v of c.volumes ?? []) if (v.action === 'delete') await operations.removeVolume(engine, v.volumeName);
      // A fill record outlives nothing it describes.
      await markFilled(engine, ctx.desired.project, c.name);
      return id;
    case 'mark-filling':
      await markFilling(engine, ctx.desired.project, c.name);
      return id;
    case 'mark-filled':
      await markFilled(engine, ctx.desired.project, c.name);
      return id;
    case 'seed-workspace': {
      const d = desired();
      const source = await openSeedSource(d.workspace);
      if (!source) throw new Error(`internal: ${c.address} has nothing to seed from`);
      try {
        const files = await seedWorkspace(engine, need(), source.dir, d.uid, d.gid);
        emit({ type: 'progress', address: c.address, message: `seeded /workspace with ${files} files from ${source.describe}` });
      } finally {
        source.cleanup();
      }
      return id;
    }
    case 'copy-workspace': {
      if (!c.movedFrom) throw new Error(`internal: ${c.address} has no workspace to copy from`);
      const d = desired();
      await copyWorkspace(engine, ctx.desired.project, c.movedFrom.volume, need(), d.spec.image, d.uid, d.gid);
      emit({ type: 'progress', address: c.address, message: `copied /workspace from ${c.movedFrom.volume} (environment ${c.movedFrom.environment})` });
      return id;
    }
    case 'create-network':
      await createEnvironmentNetwork(engine, ctx.desired.project, c.name, egress());
      return id;
    case 'create-proxy':
      await createProxy(engine, ctx.desired.project, c.name, egress());
      return id;
    case 'remove-proxy':
      await removeProxy(engine, ctx.desired.project, c.name, proxyName(ctx.desired.project, c.name));
      return id;
    case 'reload-egress-policy':
      await reloadProxy(engine, ctx.desired.project, c.name, egress());
      return id;
    case 'remove-network':
      await removeNetwork(engine, ctx.desired.project, networkName(ctx.desired.project, c.name));
      return id;
    case 'record-protect':
      await recordProtect(engine, ctx.desired.project, c.name, desired().protect);
      return id;
    case 'remove-protect-record':
      await removeProtectRecords(engine, ctx.desired.project, c.name);
      return id;
    case 'remove-idle-records':
      await removeActivityRecords(engine, ctx.desired.project, c.name);
      return id;
  }
}

async function runImageStep(step: ImageStep, c: ImageChange, ctx: ExecutorContext, emit: ApplyListener): Promise<null> {
  const { engine } = ctx;
  switch (step) {
    case 'build-image': {
      const image = ctx.desired.images.get(c.name);
      if (!image) throw new Error(`internal: no desired image for ${c.address}`);
      const progress = (line: string) => emit({ type: 'progress', address: c.address, message: line });
      // A shipped image is every project's: built under an engine-wide lock (shared-build.ts).
      await (image.builtin ? buildSharedImage : buildImage)(engine, ctx.desired.project, image, progress);
      return null;
    }
    case 'pull-image': {
      const image = ctx.desired.images.get(c.name);
      const parsed = parseImageRef(c.imageRef);
      if (!image || !c.digest || typeof parsed === 'string') throw new Error(`internal: no pullable image for ${c.address}`);
      // Read again here (a saved plan holds no credentials); the values go only into the header.
      const auth = image.pullSecret ? readPullAuth(image.pullSecret, parsed.registry, process.env) : null;
      if (auth && 'kind' in auth) throw new Error(`images.${c.name}.pullSecret: ${auth.message} (${auth.hint})`);
      const tagRef = parsed.digest === null ? `${parsed.repository}:${parsed.tag ?? 'latest'}` : null;
      await pullDigest(engine, parsed.repository, c.digest, tagRef, auth, (line) => emit({ type: 'progress', address: c.address, message: line }));
      return null;
    }
    case 'push-image': {
      const push = ctx.desired.images.get(c.name)?.build?.push;
      const parsed = push ? parseImageRef(push.ref) : 'no push target';
      if (!push || typeof parsed === 'string') throw new Error(`internal: no push target for ${c.address}`);
      const auth = push.secret ? readPullAuth(push.secret, parsed.registry, process.env) : null;
      if (auth && 'kind' in auth) throw new Error(`images.${c.name}.build.pushSecret: ${auth.message} (${auth.hint})`);
      const digest = await pushImage(engine, c.imageRef, push.ref, auth, (line) => emit({ type: 'progress', address: c.address, message: line }));
      emit({ type: 'progress', address: c.address, message: `pushed ${push.ref} (digest ${digest})` });
      return null;
    }
    case 'verify-image': {
      const facts = await probeImage(engine, c.imageRef);
      const broken = contractViolations(facts).filter((v) => !(v.rule === 'contract-version' && c.verify.allowContractMismatch));
      if (broken.length) throw new Error(`image contract broken: ${broken.map((v) => `${v.message} (fix: ${v.fix})`).join('; ')}`);
      return null;
    }
  }
}

async function runNetworkStep(step: NetworkStep, c: NetworkChange, ctx: ExecutorContext): Promise<null> {
  switch (step) {
    case 'create-outside-network':
      await createOutsideNetwork(ctx.engine, ctx.desired.project, c.name);
      return null;
    case 'remove-outside-network':
      await removeOutsideNetwork(ctx.engine, ctx.desired.project, c.name);
      return null;
  }
}
