// Live apply progress from a scripted event sequence: spinner line with elapsed time and the
// latest build line while running, then finished lines and the summary in the plain words.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import type { ApplyEvent, ApplyResult } from '../../../../src/apply/events.js';
import { applySummary } from '../../../../src/render/index.js';
import { reduceProgress, startProgress, type ApplyProgress } from '../../../../src/render/ink/apply-progress.js';
import { ApplyView } from '../../../../src/render/ink/apply-view.js';
import { imageBuildPlan } from './plans.js';

afterEach(cleanup);

/** Folds events as the CLI does, each at the given time (ms). */
function fold(progress: ApplyProgress, events: Array<[number, ApplyEvent]>): ApplyProgress {
  return events.reduce((p, [at, e]) => reduceProgress(p, e, at), progress);
}

describe('ApplyView', () => {
  const plan = imageBuildPlan();
  const IMAGE = 'image.sandboxshift-egress';
  const NET = 'network.egress-out';
  const WEB = 'environment.web';

  function live(progress: ApplyProgress, now: number) {
    const onInterrupt = vi.fn();
    const r = render(<ApplyView progress={progress} result={null} now={() => now} onInterrupt={onInterrupt} />);
    return {
      ...r,
      frame: () => r.lastFrame() ?? '',
      onInterrupt,
      show: (p: ApplyProgress, result: ApplyResult | null = null) => r.rerender(<ApplyView progress={p} result={result} now={() => now} onInterrupt={onInterrupt} />),
    };
  }

  it('shows running builds with elapsed time and their latest step line, and what is waiting', () => {
    let p = fold(startProgress(plan), [
      [1000, { type: 'change-start', address: IMAGE, kind: 'create' }],
      [1100, { type: 'step', address: IMAGE, step: 'build-image' }],
      [1200, { type: 'progress', address: IMAGE, message: 'Step 1/4 : FROM node:20-slim\n' }],
      [1300, { type: 'progress', address: IMAGE, message: '\u001b[1mStep 2/4 : COPY . /app\u001b[0m\r\n\n' }],
    ]);
    const r = live(p, 3500);
    const f = r.frame();
    expect(f).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] image\.sandboxshift-egress: Building\.\.\. 2\.5s \(build-image\)$/m);
    expect(f).toContain('    Step 2/4 : COPY . /app');
    expect(f).not.toContain('Step 1/4');
    expect(f).toContain(`· 2 waiting: ${NET}, ${WEB}`);

    p = fold(p, [[3600, { type: 'progress', address: IMAGE, message: '   \n' }]]);
    r.show(p);
    expect(r.frame()).toContain('    Step 2/4 : COPY . /app');
  });

  it('keeps a line for each finished resource, in the plain output words, then the summary of a failed apply', () => {
    const steps: Array<[number, ApplyEvent]> = [
      [0, { type: 'change-start', address: NET, kind: 'create' }],
      [0, { type: 'change-start', address: IMAGE, kind: 'create' }],
      [400, { type: 'change-done', address: NET, kind: 'create', elapsedMs: 400, containerId: null }],
      [2000, { type: 'change-done', address: IMAGE, kind: 'create', elapsedMs: 2000, containerId: null }],
      [2000, { type: 'change-start', address: WEB, kind: 'create' }],
      [2500, { type: 'change-failed', address: WEB, kind: 'create', elapsedMs: 500, step: 'start', error: 'OCI runtime create failed' }],
    ];
    let p = startProgress(plan);
    const r = live(p, 0);
    for (const step of steps) {
      p = fold(p, [step]);
      r.show(p);
    }
    const result: ApplyResult = {
      completed: [
        { address: NET, kind: 'create', containerId: null },
        { address: IMAGE, kind: 'create', containerId: null },
      ],
      failed: [{ address: WEB, kind: 'create', step: 'start', error: 'OCI runtime create failed' }],
      skipped: [],
    };
    r.show(p, result);
    const f = r.frame();
    expect(f.split('\n').slice(0, 3)).toEqual([
      '✓ network.egress-out: Creation complete after 0.4s',
      '✓ image.sandboxshift-egress: Build complete after 2.0s',
      '✗ environment.web: Creation FAILED after 0.5s at step start: OCI runtime create failed',
    ]);
    expect(f).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
    expect(f).not.toContain('waiting');
    expect(f).toContain(applySummary(result, 'normal').trimEnd());
    expect(f).toContain('Apply incomplete: 2 completed, 1 failed, 0 skipped.');
    expect(f).toContain('  failed:    environment.web (create, at step start): OCI runtime create failed');
  });

  it('marks skipped resources and ends with the complete summary when all went well', () => {
    const p = fold(startProgress(plan), [
      [0, { type: 'change-start', address: NET, kind: 'create' }],
      [100, { type: 'change-done', address: NET, kind: 'create', elapsedMs: 100, containerId: null }],
      [100, { type: 'change-skipped', address: WEB, kind: 'create', because: 'image.sandboxshift-egress failed' }],
    ]);
    const r = live(p, 100);
    expect(r.frame()).toContain('- environment.web: skipped (image.sandboxshift-egress failed)');
    const ok: ApplyResult = {
      completed: [
        { address: IMAGE, kind: 'create', containerId: null },
        { address: WEB, kind: 'create', containerId: 'c0ffee' },
      ],
      failed: [],
      skipped: [],
    };
    r.show(p, ok);
    expect(r.frame()).toContain('Apply complete! Resources: 1 built, 1 added, 0 changed, 0 destroyed.');
  });

  it('folds events into new states, leaving the old ones as they were', () => {
    const before = startProgress(plan);
    const copy = structuredClone(before);
    const after = reduceProgress(before, { type: 'change-start', address: WEB, kind: 'create' }, 5);
    expect(before).toEqual(copy);
    expect(after.resources.find((r) => r.address === WEB)).toMatchObject({ status: 'running', startedAt: 5 });
    expect(after.resources.find((r) => r.address === NET)).toBe(before.resources.find((r) => r.address === NET));
  });

  it('passes Ctrl-C on while running (the terminal is raw, so no SIGINT comes by itself)', async () => {
    const r = live(fold(startProgress(plan), [[0, { type: 'change-start', address: NET, kind: 'create' }]]), 0);
    r.stdin.write('x');
    r.stdin.write('\u0003');
    await vi.waitFor(() => expect(r.onInterrupt).toHaveBeenCalledTimes(1));
  });
});
