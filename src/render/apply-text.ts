// Line-by-line apply progress and the closing summary, for logs and terminals alike.
import type { ApplyEvent, ApplyResult, ImageWork } from '../apply/events.js';
import { shortId } from '../plan/format.js';
import type { ChangeKind } from '../plan/types.js';
import { plainStyle, type Style } from './style.js';

const ING: Record<ChangeKind, string> = { create: 'Creating', replace: 'Replacing', update: 'Updating', start: 'Starting', delete: 'Destroying', 'no-op': 'Checking' };
const DONE: Record<ChangeKind, string> = { create: 'Creation', replace: 'Replacement', update: 'Update', start: 'Start', delete: 'Destruction', 'no-op': 'Check' };

const IMAGE_ING: Record<ImageWork, string> = { build: 'Building', pull: 'Pulling', push: 'Pushing' };
const IMAGE_DONE: Record<ImageWork, string> = { build: 'Build', pull: 'Pull', push: 'Push' };

export function applyEventLine(e: ApplyEvent, style: Style = plainStyle): string | null {
  switch (e.type) {
    case 'change-start':
      return `${e.address}: ${e.address.startsWith('image.') && e.kind === 'create' ? IMAGE_ING[e.image ?? 'build'] : ING[e.kind]}...`;
    case 'step':
      return null;
    case 'progress':
      return style.dim(`${e.address}: ${e.message}`);
    case 'change-done':
      return style.green(
        `${e.address}: ${e.address.startsWith('image.') ? IMAGE_DONE[e.image ?? 'build'] : DONE[e.kind]} complete after ${seconds(e.elapsedMs)}${e.containerId ? ` [id=${shortId(e.containerId)}]` : ''}`,
      );
    case 'change-failed':
      return style.red(
        `${e.address}: ${e.address.startsWith('image.') ? IMAGE_DONE[e.image ?? 'build'] : DONE[e.kind]} FAILED ${e.step ? `after ${seconds(e.elapsedMs)} at step ${e.step}` : 'before it started'}: ${e.error}`,
      );
    case 'change-skipped':
      return style.yellow(`${e.address}: skipped (${e.because})`);
  }
}

export function applySummary(r: ApplyResult, mode: 'normal' | 'destroy', style: Style = plainStyle): string {
  const images = r.completed.filter((c) => c.address.startsWith('image.'));
  const envs = r.completed.filter((c) => !c.address.startsWith('image.'));
  const count = (kinds: ChangeKind[]) => envs.filter((c) => kinds.includes(c.kind)).length;
  // Counted by what was done: a pulled image is not "built".
  const done = (work: ImageWork, word: string) => {
    const n = images.filter((c) => (c.image ?? 'build') === work).length;
    return n > 0 ? `${n} ${word}, ` : '';
  };
  const built = `${done('pull', 'pulled')}${done('build', 'built')}${done('push', 'pushed')}`;
  const added = count(['create', 'replace']);
  const changed = count(['update', 'start']);
  const destroyed = count(['delete', 'replace']);
  const what = mode === 'destroy' ? 'Destroy' : 'Apply';
  if (r.failed.length === 0 && r.skipped.length === 0) {
    return `${style.green(style.bold(`${what} complete! Resources: ${built}${added} added, ${changed} changed, ${destroyed} destroyed.`))}\n`;
  }
  const lines = [style.red(style.bold(`${what} incomplete: ${r.completed.length} completed, ${r.failed.length} failed, ${r.skipped.length} skipped.`))];
  for (const c of r.completed) lines.push(`  completed: ${c.address} (${c.kind})`);
  for (const f of r.failed) lines.push(style.red(`  failed:    ${f.address} (${f.kind}, ${f.step ? `at step ${f.step}` : 'not started'}): ${f.error}`));
  for (const s of r.skipped) lines.push(style.yellow(`  skipped:   ${s.address} (${s.kind}): ${s.because}`));
  lines.push('Run `sandboxshift plan` to see what is left; apply again to finish.');
  return `${lines.join('\n')}\n`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
