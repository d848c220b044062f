// `images build` as a library call: the same image changes apply would make, and nothing else.
import type { ApplyListener, ApplyResult } from '../apply/events.js';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import type { Engine } from '../engine/client.js';
import type { DesiredImage } from '../model/images.js';
import { planImage } from '../plan/images.js';
import { assemblePlan } from '../plan/plan.js';
import type { ImageChange } from '../plan/types.js';
import { applyPlan, loadAndObserve } from './pipeline.js';

export interface ImageBuildOutcome {
  /** Images whose build context has not changed since their last build. */
  upToDate: DesiredImage[];
  /** The builds run; null when there was nothing to build. */
  result: ApplyResult | null;
}

/** Builds the config's images (or only `name`) whose context changed; environments are not touched. */
export async function buildImages(engine: Engine, configPath: string, name?: string, onEvent?: ApplyListener): Promise<ImageBuildOutcome> {
  const { loaded, observed } = await loadAndObserve(engine, configPath, { needSecrets: false, registry: false });
  const images = [...loaded.desired.images.values()].filter((i) => i.build && (!name || i.name === name));
  if (name && images.length === 0) {
    const known = [...loaded.desired.images.values()].filter((i) => i.build).map((i) => i.name);
    throw new DiagnosticsError([errorDiag(`images build: no built image named '${name}'`, { hint: `images with a build: ${known.join(', ') || '(none)'}` })]);
  }
  const users = [...loaded.desired.environments.values()];
  const changes = images
    .map((i) =>
      planImage(
        loaded.desired.project,
        i,
        observed,
        users.filter((d) => d.imageName === i.name),
      ),
    )
    .filter((c): c is ImageChange => c !== null);
  const upToDate = images.filter((i) => !changes.some((c) => c.name === i.name));
  if (changes.length === 0) return { upToDate, result: null };
  const plan = assemblePlan(loaded.desired, observed, 'normal', changes, [], []);
  return { upToDate, result: await applyPlan(engine, loaded, plan, { onEvent }) };
}
