// The plan review's own state (which change is selected, which are expanded, the answer) and
// how keys change it: pure functions returning new state, so the view only renders.
import type { ChangeBlock } from './plan-lines.js';

export type Decision = 'approved' | 'rejected';

export interface ReviewState {
  readonly selected: number;
  readonly expanded: readonly string[];
  readonly decision: Decision | null;
}

/** A key as Ink reports it: the text typed and the special keys. */
export interface KeyPress {
  input: string;
  upArrow?: boolean;
  downArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  ctrl?: boolean;
}

/** Reviewing: security-relevant changes open, the rest one line each. Just showing: all open. */
export function initialReview(blocks: readonly ChangeBlock[], approve: boolean): ReviewState {
  return { selected: 0, expanded: blocks.filter((b) => !approve || b.security).map((b) => b.address), decision: null };
}

/**
 * ↑/↓ or k/j move, enter or space open and close, `y` approves, `n`, `q`, Esc or Ctrl-C reject.
 * Typed or pasted text is taken one character at a time, so "yes" followed by enter approves as
 * at the plain prompt, and a paste does what typing it would.
 */
export function reviewKey(state: ReviewState, blocks: readonly ChangeBlock[], key: KeyPress): ReviewState {
  if (state.decision) return state;
  const last = Math.max(0, blocks.length - 1);
  const move = (to: number): ReviewState => ({ ...state, selected: Math.min(last, Math.max(0, to)) });
  if (key.ctrl && key.input === 'c') return { ...state, decision: 'rejected' };
  if (key.escape) return { ...state, decision: 'rejected' };
  if (key.upArrow) return move(state.selected - 1);
  if (key.downArrow) return move(state.selected + 1);
  if (key.pageUp || key.home) return move(0);
  if (key.pageDown || key.end) return move(last);
  if (key.return) return toggle(state, blocks);
  if (key.ctrl) return state;
  let next = state;
  for (const ch of key.input) {
    if (next.decision) break;
    if (ch === 'y') next = { ...next, decision: 'approved' };
    else if (ch === 'n' || ch === 'q') next = { ...next, decision: 'rejected' };
    else if (ch === 'k') next = reviewKey(next, blocks, { input: '', upArrow: true });
    else if (ch === 'j') next = reviewKey(next, blocks, { input: '', downArrow: true });
    else if (ch === ' ' || ch === '\r' || ch === '\n') next = toggle(next, blocks);
  }
  return next;
}

function toggle(state: ReviewState, blocks: readonly ChangeBlock[]): ReviewState {
  const address = blocks[state.selected]?.address;
  if (address === undefined) return state;
  const open = state.expanded.includes(address);
  return { ...state, expanded: open ? state.expanded.filter((a) => a !== address) : [...state.expanded, address] };
}

/**
 * Which changes fit in `budget` rows: the selected one, then neighbours taken alternately below
 * and above while they fit, so the selection stays near the middle as it moves.
 */
export function visibleRange(heights: readonly number[], selected: number, budget: number): { first: number; last: number } {
  let first = selected;
  let last = selected;
  let used = heights[selected] ?? 0;
  let below = true;
  let above = true;
  while (below || above) {
    if (below) {
      const h = heights[last + 1];
      if (h !== undefined && used + h <= budget) {
        last++;
        used += h;
      } else below = false;
    }
    if (above) {
      const h = first > 0 ? heights[first - 1] : undefined;
      if (h !== undefined && used + h <= budget) {
        first--;
        used += h;
      } else above = false;
    }
  }
  return { first, last };
}
