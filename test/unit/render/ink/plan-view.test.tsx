// The plan TUI, rendered frame by frame: what each kind of change shows, security first, and
// the keys (move, open details, approve, reject).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import type { JsonPlan } from '../../../../src/render/index.js';
import { PlanView } from '../../../../src/render/ink/plan-view.js';
import { visibleRange } from '../../../../src/render/ink/review-state.js';
import { createPlan, deletePlan, egressWidenedPlan, imageBuildPlan, imagePullPlan, manyPlan, purgePlan, replacePlan } from './plans.js';

afterEach(cleanup);

const DOWN = '\u001B[B';
const UP = '\u001B[A';

function review(plan: JsonPlan, rows = 60) {
  const onDecision = vi.fn();
  const r = render(<PlanView plan={plan} approve={true} rows={rows} onDecision={onDecision} />);
  const frame = () => r.lastFrame() ?? '';
  /** Types keys, then waits until the frame shows `until`. */
  const press = async (keys: string, until: string | RegExp) => {
    r.stdin.write(keys);
    await vi.waitFor(() => expect(frame()).toMatch(until));
  };
  return { ...r, frame, press, onDecision };
}

const shown = (plan: JsonPlan) => render(<PlanView plan={plan} approve={false} />).lastFrame() ?? '';

/** The lines of `frame` from the one containing `from`, up to (not including) the next blank line. */
function block(frame: string, from: string): string {
  const lines = frame.split('\n');
  const start = lines.findIndex((l) => l.includes(from));
  expect(start, `"${from}" in the frame`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l.replace(/[│\s]/g, '') === '');
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

describe('PlanView shows each kind of change', () => {
  it('create: symbol, reason, data effect; details with the environment and its new volume, secret values never', async () => {
    const plan = createPlan();
    const all = shown(plan);
    expect(all).toContain('SandboxShift plan for project "demo"');
    expect(block(all, 'environment.agent')).toBe(
      [
        '  + environment.agent will be created',
        '      because:   new environment',
        '      data:      none',
        '      image:     sandboxshift/busybox:test',
        '      runtime:   runc, user 65532:65532, network none',
        '      resources: 1 cpu, 512 MiB, 256 pids',
        '      env:       ROLE',
        '      secrets:   api_key (values hidden)',
        '      egress:    none (no network)',
        '      workspace: new volume ss.demo.agent.workspace',
        '      steps:     create-container, copy-secrets, start',
      ].join('\n'),
    );
    expect(all).toContain('Plan: 1 to add, 0 to change, 0 to destroy.');
    expect(all).not.toContain('hunter2');

    // Reviewing: one line of reasons first, the rest behind enter.
    const r = review(plan);
    expect(r.frame()).toContain('❯ ▸   + environment.agent will be created');
    expect(r.frame()).not.toContain('workspace:');
    await r.press('\r', 'workspace: new volume ss.demo.agent.workspace');
    expect(r.frame()).toContain('❯ ▾   + environment.agent will be created');
    await r.press(' ', '❯ ▸   + environment.agent');
    expect(r.frame()).not.toContain('workspace:');
  });

  it('replace: every reason, the data effect, and line diffs of env and command', async () => {
    const r = review(replacePlan());
    expect(block(r.frame(), 'environment.agent')).toBe(
      [
        '❯ ▸ -/+ environment.agent must be replaced',
        '          because:   env.A changed',
        '                     env.B removed',
        '                     env.C added',
        '                     command changed',
        '                     runtime changed: runc → runsc',
        '          data:      new container; /workspace kept',
      ].join('\n'),
    );
    await r.press('\r', 'env:');
    const details = r.frame();
    expect(details).toContain('runtime:   runc, user 65532:65532, network none → runsc, user 65532:65532, network none');
    expect(details).toContain(['          env:', '            - A=1', '            - B=2', '            + A=9', '            + C=3'].join('\n'));
    expect(details).toContain(['          command:', '              sh', '              -c', '              make deps', '            - make serve', '            + make watch'].join('\n'));
    expect(details).toContain('          resources: 1 cpu, 512 MiB, 256 pids');
    expect(details).toContain('          steps:     remove-container, create-container, start');
  });

  it('update that widens egress: first, in the security frame, open, with its note; other changes after', () => {
    const r = review(egressWidenedPlan());
    const f = r.frame();
    const lines = f.split('\n');
    const frameTop = lines.findIndex((l) => l.startsWith('╭'));
    const frameBottom = lines.findIndex((l) => l.startsWith('╰'));
    const at = (s: string) => lines.findIndex((l) => l.includes(s));
    expect(lines[frameTop + 1]).toContain('! Security-relevant changes: read these first');
    expect(at('~ environment.a will be updated in place')).toBe(frameTop + 2);
    expect(lines[frameTop + 2]).toContain('❯ ▾');
    expect(at('! security: egress widened: evil.example')).toBeLessThan(frameBottom);
    expect(at('because:   egress WIDENED: +evil.example')).toBeLessThan(frameBottom);
    expect(at('egress:    only pypi.org, evil.example (through its proxy)')).toBeLessThan(frameBottom);
    expect(at('Other changes')).toBeGreaterThan(frameBottom);
    expect(at('-/+ environment.z must be replaced')).toBeGreaterThan(frameBottom);
    expect(f).toContain('Plan: 1 to build, 1 to add, 1 to change, 1 to destroy.');
  });

  it('delete: the destroy symbol and that the workspace is kept', () => {
    const f = shown(deletePlan());
    expect(block(f, 'environment.gone')).toContain(
      ['  - environment.gone will be destroyed', '      because:   environment removed from config; /workspace volume kept', '      data:      container removed; /workspace volume kept'].join('\n'),
    );
    expect(f).not.toContain('environment.a ');
    expect(f).not.toContain('Security-relevant');
  });

  it('a destroy that deletes workspaces counts as security-relevant and asks the destroy question', () => {
    const r = review(purgePlan());
    const f = r.frame();
    expect(f).toContain('SandboxShift destroy plan for project "demo"');
    expect(f.indexOf('! Security-relevant changes')).toBeLessThan(f.indexOf('- environment.a will be destroyed'));
    expect(f.match(/data: {6}\/workspace volume DELETED/g)).toHaveLength(2);
    expect(f).toContain('Do you really want to destroy these environments?');
  });

  it('image build: "will be built", its tag and why; counted as a build', () => {
    const f = shown(imageBuildPlan());
    expect(block(f, 'image.sandboxshift-egress')).toMatch(
      /^ {2}\+ image\.sandboxshift-egress will be built\n {6}tag: {7}sandboxshift\/builtin-sandboxshift-egress:ctx-[0-9a-f]{12}\n {6}because: {3}not built yet \(Dockerfile in the shipped images\/\)\n {6}steps: {5}build-image$/,
    );
    expect(f).toContain('  + network.egress-out will be created');
    expect(f).toContain('Plan: 1 to build, 2 to add, 0 to change, 0 to destroy.');
  });

  it('image pull: "will be pulled" (not built), its ref and digest; counted as a pull', () => {
    const f = shown(imagePullPlan());
    expect(block(f, 'image.sandboxshift-egress')).toMatch(
      /^ {2}\+ image\.sandboxshift-egress will be pulled\n {6}ref: {7}127\.0\.0\.1:5000\/team\/app:1\n {6}digest: {4}sha256:(ab){32}\n {6}because: {3}pull 127\.0\.0\.1:5000\/team\/app:1 \(sha256:abababababab\) from 127\.0\.0\.1:5000\n {6}verify: {4}the image contract, as its own USER\n {6}steps: {5}pull-image, verify-image$/,
    );
    expect(f).not.toContain('will be built');
    expect(f).toContain('Plan: 1 to pull, 2 to add, 0 to change, 0 to destroy.');
  });

  it('no changes: says so, and asks nothing', () => {
    const plan = { ...createPlan(), resource_changes: [], summary: { build: 0, add: 0, change: 0, destroy: 0 } };
    expect(shown(plan)).toBe('SandboxShift plan for project "demo"\n\nNo changes. 0 environments match the configuration.');
  });
});

describe('PlanView keys', () => {
  it('y approves, once', async () => {
    const r = review(createPlan());
    await r.press('y', '  Approved.');
    r.stdin.write('n');
    await vi.waitFor(() => expect(r.onDecision).toHaveBeenCalledTimes(1));
    expect(r.onDecision).toHaveBeenCalledWith(true);
    expect(r.frame()).not.toContain('y approve · n/q reject');
  });

  it('typing "yes" and enter approves, as at the plain prompt', async () => {
    const r = review(createPlan());
    await r.press('yes\r', '  Approved.');
    // The decision reaches the caller in an effect after the frame that shows it.
    await vi.waitFor(() => expect(r.onDecision.mock.calls).toEqual([[true]]));
  });

  it.each([
    ['n', 'n'],
    ['q', 'q'],
    ['Ctrl-C', '\u0003'],
    ['Esc', '\u001B'],
    ['"no" and enter', 'no\r'],
  ])('%s rejects', async (_name, keys) => {
    const r = review(createPlan());
    await r.press(keys, '  Rejected.');
    // The decision is reported after the frame that shows it (as for approval above).
    await vi.waitFor(() => expect(r.onDecision.mock.calls).toEqual([[false]]));
  });

  it('other keys decide nothing', async () => {
    const r = review(createPlan());
    await r.press('x', /y approve · n\/q reject/);
    r.stdin.write('\u001B[C');
    await new Promise((res) => setTimeout(res, 100));
    expect(r.onDecision).not.toHaveBeenCalled();
    expect(r.frame()).toContain('Do you want to perform these actions?');
  });

  it('↓/↑ and j/k move between resources, enter opens the selected one', async () => {
    const r = review(egressWidenedPlan());
    expect(r.frame()).toContain('❯ ▾   ~ environment.a');
    await r.press(DOWN, '❯ ▸   + image.sandboxshift-egress');
    await r.press('j', '❯ ▸ -/+ environment.z');
    await r.press('j', '❯ ▸ -/+ environment.z'); // stays on the last one
    await r.press('\r', '❯ ▾ -/+ environment.z');
    expect(block(r.frame(), 'environment.z')).toContain('+ X=1');
    await r.press('k', '❯ ▸   + image.sandboxshift-egress');
    await r.press(UP, '❯ ▾   ~ environment.a');
    expect(r.onDecision).not.toHaveBeenCalled();
  });

  it('keeps within the terminal: shows what fits around the selection and how many more there are', async () => {
    const r = review(manyPlan(), 24);
    const height = () => r.frame().split('\n').length;
    expect(height()).toBeLessThan(24);
    expect(r.frame()).toContain('+ environment.e0');
    expect(r.frame()).toMatch(/↓ \d+ more below/);
    expect(r.frame()).not.toContain('environment.e9');
    await r.press('jjjjjjjjj', '❯ ▸   + environment.e9');
    expect(r.frame()).not.toContain('environment.e0 ');
    expect(r.frame()).toMatch(/↑ \d+ more above/);
    expect(height()).toBeLessThan(24);
    await r.press('\r', 'workspace: new volume ss.demo.e9.workspace');
    expect(height()).toBeLessThan(24);
  });
});

describe('visibleRange', () => {
  it('takes neighbours below and above in turn while they fit', () => {
    expect(visibleRange([3, 3, 3, 3, 3], 2, 9)).toEqual({ first: 1, last: 3 });
    expect(visibleRange([3, 3, 3, 3, 3], 0, 9)).toEqual({ first: 0, last: 2 });
    expect(visibleRange([3, 3, 3, 3, 3], 4, 9)).toEqual({ first: 2, last: 4 });
    expect(visibleRange([3, 10, 3], 1, 5)).toEqual({ first: 1, last: 1 });
    expect(visibleRange([3, 3], 0, 100)).toEqual({ first: 0, last: 1 });
  });
});
