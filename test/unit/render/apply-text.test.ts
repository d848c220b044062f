// The apply progress lines and closing summary say what was done to each image: pulled, built or pushed.
import { describe, expect, it } from 'vitest';
import type { ApplyResult } from '../../../src/apply/events.js';
import { applyEventLine, applySummary } from '../../../src/render/apply-text.js';

describe('apply text for images', () => {
  it('the summary counts pulled, built and pushed images apart', () => {
    const r: ApplyResult = {
      completed: [
        { address: 'image.team', kind: 'create', containerId: null, image: 'pull' },
        { address: 'image.other', kind: 'create', containerId: null, image: 'pull' },
        { address: 'image.app', kind: 'create', containerId: null, image: 'build' },
        { address: 'image.pushed', kind: 'create', containerId: null, image: 'push' },
        { address: 'environment.dev', kind: 'create', containerId: 'c0ffee' },
      ],
      failed: [],
      skipped: [],
    };
    expect(applySummary(r, 'normal')).toBe('Apply complete! Resources: 2 pulled, 1 built, 1 pushed, 1 added, 0 changed, 0 destroyed.\n');
  });

  it('a pull alone is never called a build', () => {
    const r: ApplyResult = { completed: [{ address: 'image.team', kind: 'create', containerId: null, image: 'pull' }], failed: [], skipped: [] };
    expect(applySummary(r, 'normal')).toBe('Apply complete! Resources: 1 pulled, 0 added, 0 changed, 0 destroyed.\n');
  });

  it('progress says Pulling and Pull for a pull', () => {
    expect(applyEventLine({ type: 'change-start', address: 'image.team', kind: 'create', image: 'pull' })).toBe('image.team: Pulling...');
    expect(applyEventLine({ type: 'change-done', address: 'image.team', kind: 'create', elapsedMs: 1500, containerId: null, image: 'pull' })).toBe('image.team: Pull complete after 1.5s');
    expect(applyEventLine({ type: 'change-done', address: 'image.app', kind: 'create', elapsedMs: 1500, containerId: null, image: 'build' })).toBe('image.app: Build complete after 1.5s');
  });
});
