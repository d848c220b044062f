// Apply progress per resource, folded from the executor's events: pure, each event gives a
// new state, so the view only renders what it is handed.
import type { ApplyEvent } from '../../apply/events.js';
import type { ChangeKind, Step } from '../../plan/types.js';
import { applyEventLine } from '../apply-text.js';
import type { JsonPlan } from '../json.js';

export type ResourceStatus = 'waiting' | 'running' | 'done' | 'failed' | 'skipped';

export interface ResourceProgress {
  readonly address: string;
  readonly kind: ChangeKind;
  readonly status: ResourceStatus;
  /** When its change started, on the clock the events were folded with. */
  readonly startedAt: number | null;
  readonly step: Step | null;
  /** The latest progress line, e.g. a build step. */
  readonly latest: string | null;
  /** The closing line, in the words of the plain output ("... complete after 1.2s"). */
  readonly outcome: string | null;
}

export interface ApplyProgress {
  readonly mode: JsonPlan['mode'];
  readonly resources: readonly ResourceProgress[];
  /** Addresses in the order they finished (done, failed or skipped). */
  readonly finished: readonly string[];
}

export function startProgress(plan: JsonPlan): ApplyProgress {
  return {
    mode: plan.mode,
    resources: plan.resource_changes.filter((c) => c.kind !== 'no-op').map((c) => ({ address: c.address, kind: c.kind, status: 'waiting', startedAt: null, step: null, latest: null, outcome: null })),
    finished: [],
  };
}

export function reduceProgress(p: ApplyProgress, e: ApplyEvent, at: number): ApplyProgress {
  const known = p.resources.some((r) => r.address === e.address);
  const resources = known
    ? p.resources
    : [...p.resources, { address: e.address, kind: 'kind' in e ? e.kind : 'no-op', status: 'waiting' as const, startedAt: null, step: null, latest: null, outcome: null }];
  const update = (fields: Partial<ResourceProgress>) => resources.map((r) => (r.address === e.address ? { ...r, ...fields } : r));
  const finish = (status: ResourceStatus): ApplyProgress => ({
    ...p,
    resources: update({ status, outcome: applyEventLine(e) }),
    finished: [...p.finished, e.address],
  });
  switch (e.type) {
    case 'change-start':
      return { ...p, resources: update({ status: 'running', kind: e.kind, startedAt: at }) };
    case 'step':
      return { ...p, resources: update({ step: e.step }) };
    case 'progress': {
      const line = lastLine(e.message);
      return line ? { ...p, resources: update({ latest: line }) } : { ...p, resources };
    }
    case 'change-done':
      return finish('done');
    case 'change-failed':
      return finish('failed');
    case 'change-skipped':
      return finish('skipped');
  }
}

/** The last non-blank line of a message, without terminal control sequences. */
function lastLine(message: string): string | null {
  // eslint-disable-next-line no-control-regex -- removing terminal control characters is the point
  const clean = message.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
  const lines = clean
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines.at(-1) ?? null;
}
