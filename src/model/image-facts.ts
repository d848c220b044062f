// What the engine reported about an image, probed as an environment's user (engine/image-probe.ts
// gathers them; plan/contract.ts judges them).
export interface ImageFacts {
  ref: string;
  /** The image's USER, '' when unset (root). */
  user: string;
  /** The io.sandboxshift.contract label, or null. */
  contract: string | null;
  /** /bin/sh could be started. */
  shell: boolean;
  /** /workspace exists and the probing user could write it. */
  workspaceWritable: boolean;
  probedAs: string;
}
