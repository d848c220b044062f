import type { ChangeKind, Step } from '../plan/types.js';

/** What the executor reports; renderers subscribe. */
export type ApplyEvent =
  | { type: 'change-start'; address: string; kind: ChangeKind }
  | { type: 'step'; address: string; step: Step }
  | { type: 'progress'; address: string; message: string }
  | { type: 'change-done'; address: string; kind: ChangeKind; elapsedMs: number; containerId: string | null }
  | { type: 'change-failed'; address: string; kind: ChangeKind; elapsedMs: number; step: Step | null; error: string }
  | { type: 'change-skipped'; address: string; kind: ChangeKind; because: string };

export type ApplyListener = (event: ApplyEvent) => void;

export interface ApplyResult {
  completed: Array<{ address: string; kind: ChangeKind; containerId: string | null }>;
  /** `step` is null when the change was refused before any of its steps ran. */
  failed: Array<{ address: string; kind: ChangeKind; step: Step | null; error: string }>;
  skipped: Array<{ address: string; kind: ChangeKind; because: string }>;
}
