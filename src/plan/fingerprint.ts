// A hash of everything in the observed state that a plan depends on. A saved plan records it;
// `apply PLANFILE` refuses when the engine no longer matches.
import { imageByRef } from '../config/image-ref.js';
import { hashOf } from '../model/hash.js';
import type { ObservedState } from '../model/observed.js';

export function observedFingerprint(observed: ObservedState, imageRefs: Iterable<string>): string {
  const containers = [...observed.containers.values(), ...observed.duplicates]
    // IDs are hex: code-unit order is localeCompare's, without loading ICU's collation data.
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((c) => [c.id, c.environment, c.state, c.configHash, c.resources, c.name]);
  const volumes = [...observed.volumes.keys()].sort();
  const images = [...new Set(imageRefs)].sort().map((ref) => [ref, imageByRef(observed.images, ref)?.id ?? null]);
  const protect = [...observed.protectRecords.values()]
    .flat()
    .map((r) => [r.name, r.protect])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  // What proxies enforce after a reload in place (absent without records: fingerprints stay as they were).
  const egressPolicies = [...observed.proxies.values()]
    .filter((p) => p.recorded)
    .sort((a, b) => a.environment.localeCompare(b.environment))
    .map((p) => [p.environment, p.id, p.recorded]);
  return hashOf({ containers, volumes, images, runtimes: observed.runtimes, ...(protect.length ? { protect } : {}), ...(egressPolicies.length ? { egressPolicies } : {}) });
}
