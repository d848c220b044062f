// When the CLI shows the TUI: only for a person at a terminal; the plain output everywhere else.
import { describe, expect, it } from 'vitest';
import { wantsTui } from '../../../src/cli/tui.js';
import type { Io } from '../../../src/cli/io.js';
import { plainStyle } from '../../../src/render/style.js';

const io = (interactive: boolean): Io => ({ out: () => undefined, err: () => undefined, style: plainStyle, errStyle: plainStyle, interactive });
const TERMINAL = { TERM: 'xterm-256color' };

describe('wantsTui', () => {
  it('on a terminal, outside CI, without --no-tui', () => {
    expect(wantsTui(io(true), {}, TERMINAL)).toBe(true);
    expect(wantsTui(io(true), {}, { ...TERMINAL, CI: 'false' })).toBe(true);
    expect(wantsTui(io(true), {}, { ...TERMINAL, CI: '0' })).toBe(true);
  });

  it('not without a terminal, with --no-tui, on a dumb terminal', () => {
    expect(wantsTui(io(false), {}, TERMINAL)).toBe(false);
    expect(wantsTui(io(true), { 'no-tui': true }, TERMINAL)).toBe(false);
    expect(wantsTui(io(true), {}, { TERM: 'dumb' })).toBe(false);
  });

  it('not where Ink counts as CI (it would draw only the last frame): CI set to anything but 0 or false', () => {
    for (const ci of ['true', '1', '', 'yes']) expect(wantsTui(io(true), {}, { ...TERMINAL, CI: ci }), `CI=${ci}`).toBe(false);
    expect(wantsTui(io(true), {}, { ...TERMINAL, CONTINUOUS_INTEGRATION: '1' })).toBe(false);
  });
});
