// Saved plans: `plan --out FILE` then `apply FILE` applies exactly that plan, or refuses.
// No state file is needed: the saved plan records what it saw, and we look again.
import { canonicalJson } from '../model/hash.js';
import type { Plan } from './types.js';

/** Why a saved plan can no longer be applied as it is; empty when it still holds. */
export function staleReasons(saved: Plan, fresh: Plan): string[] {
  const reasons: string[] = [];
  if (saved.project !== fresh.project) reasons.push(`it is for project '${saved.project}', the config is for '${fresh.project}'`);
  if (saved.sourceHash !== fresh.sourceHash) reasons.push('the config file changed since the plan was saved');
  if (saved.observedFingerprint !== fresh.observedFingerprint) reasons.push('the live state on the engine changed since the plan was saved');
  if (canonicalJson(essence(saved)) !== canonicalJson(essence(fresh))) {
    reasons.push('planning again now gives different changes (a secret value, an image, or the engine changed)');
  }
  return reasons;
}

function essence(p: Plan): unknown {
  return {
    mode: p.mode,
    targets: [...p.targets].sort(),
    changes: p.changes.map((c) => [c.address, c.actions, c.steps, c.type === 'environment' ? c.containerId : null, c.configHash, c.type === 'environment' ? c.resources : null]),
  };
}
