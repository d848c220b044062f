// What the engine reported about an image, probed as its own USER (engine/image-probe.ts
// gathers them; plan/contract.ts judges them).
export interface ImageFacts {
  ref: string;
  /** The image's USER, '' when unset (root). */
  user: string;
  /** The io.sandboxshift.contract label, or null. */
  contract: string | null;
  /** /bin/sh could be started. */
  shell: boolean;
  /** /workspace exists and the image's own USER could write it. */
  workspaceWritable: boolean;
  /** The user the probe ran as: the image's USER ('' for the engine's default, root). */
  probedAs: string;
}
