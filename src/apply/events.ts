import type { ChangeKind, Step } from '../plan/types.js';

/** What an image change does, for the words progress is shown with. */
export type ImageWork = 'build' | 'pull' | 'push';

export function imageWork(steps: readonly Step[]): ImageWork {
  return steps.includes('build-image') ? 'build' : steps.includes('pull-image') ? 'pull' : 'push';
}

/** What the executor reports; renderers subscribe. `image` is set on image changes. */
export type ApplyEvent =
  | { type: 'change-start'; address: string; kind: ChangeKind; image?: ImageWork }
  | { type: 'step'; address: string; step: Step }
  | { type: 'progress'; address: string; message: string }
  | { type: 'change-done'; address: string; kind: ChangeKind; elapsedMs: number; containerId: string | null; image?: ImageWork }
  | { type: 'change-failed'; address: string; kind: ChangeKind; elapsedMs: number; step: Step | null; error: string; image?: ImageWork }
  | { type: 'change-skipped'; address: string; kind: ChangeKind; because: string };

export type ApplyListener = (event: ApplyEvent) => void;

export interface ApplyResult {
  /** `image` is set on image changes: what was done, so the summary can say pulled, built or pushed. */
  completed: Array<{ address: string; kind: ChangeKind; containerId: string | null; image?: ImageWork }>;
  /** `step` is null when the change was refused before any of its steps ran. */
  failed: Array<{ address: string; kind: ChangeKind; step: Step | null; error: string }>;
  skipped: Array<{ address: string; kind: ChangeKind; because: string }>;
}
