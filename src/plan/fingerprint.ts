// A hash of everything in the observed state that a plan depends on. A saved plan records it;
// `apply PLANFILE` refuses when the engine no longer matches.
import { hashOf } from '../model/hash.js';
import type { ObservedState } from '../model/observed.js';

export function observedFingerprint(observed: ObservedState, imageRefs: Iterable<string>): string {
  const containers = [...observed.containers.values(), ...observed.duplicates]
    .map((c) => [c.id, c.environment, c.state, c.configHash, c.resources] as const)
    .sort((a, b) => a[0].localeCompare(b[0]));
  const volumes = [...observed.volumes.keys()].sort();
  const images = [...new Set(imageRefs)].sort().map((ref) => [ref, observed.images.get(ref)?.id ?? null]);
  return hashOf({ containers, volumes, images, runtimes: observed.runtimes });
}
