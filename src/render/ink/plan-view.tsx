// The plan as a terminal UI: one block per resource, security-relevant ones first in a red
// frame; in approve mode a cursor, details opened and closed with enter, and the y/n answer.
import { useEffect, useMemo, useState } from 'react';
import { Box, Text, useInput } from 'ink';
import { formatDiagnostic } from '../../diagnostics.js';
import type { JsonPlan } from '../json.js';
import { planCounts } from '../text.js';
import { changeBlocks, type ChangeBlock, type Line, type Tone } from './plan-lines.js';
import { initialReview, reviewKey, visibleRange, type ReviewState } from './review-state.js';

export interface PlanViewProps {
  plan: JsonPlan;
  /** Ask for approval (with a cursor and details to open); otherwise show everything open. */
  approve: boolean;
  /** Terminal height. When reviewing, the view keeps within it: Ink clears the screen when a frame is taller. */
  rows?: number;
  /** Colours (off for --no-color and NO_COLOR); bold and dim stay. */
  color?: boolean;
  onDecision?: (approved: boolean) => void;
}

export const SYMBOLS_LINE = 'Symbols: + create, ~ update in place, > start, -/+ replace, - destroy';
export const KEYS_LINE = 'y approve · n/q reject · ↑/↓ or j/k move · enter/space details';

export function questionFor(plan: JsonPlan): string {
  return plan.mode === 'destroy' ? 'Do you really want to destroy these environments?' : 'Do you want to perform these actions?';
}

export function PlanView({ plan, approve, rows, color = true, onDecision }: PlanViewProps) {
  const blocks = useMemo(() => changeBlocks(plan), [plan]);
  const [state, setState] = useState<ReviewState>(() => initialReview(blocks, approve));
  useInput((input, key) => setState((s) => reviewKey(s, blocks, { input, ...key })), { isActive: approve && state.decision === null });
  useEffect(() => {
    if (state.decision) onDecision?.(state.decision === 'approved');
  }, [state.decision]);

  const paint = (tone?: Tone) => ({ color: color && tone && tone !== 'dim' ? tone : undefined, dimColor: tone === 'dim' });
  const wrap = approve ? 'truncate-end' : 'wrap';
  const warnings = plan.diagnostics.filter((d) => d.severity === 'warning');
  const environments = plan.resource_changes.filter((c) => c.type === 'environment').length;
  const s = plan.summary;

  const open = (b: ChangeBlock) => state.expanded.includes(b.address);
  const linesOf = (b: ChangeBlock) => (open(b) ? [...b.summary, ...b.details] : b.summary);
  // Rows outside the changes: title, symbols, the frame and headings, the totals, the question.
  const fixed = 4 + (blocks.some((b) => b.security) ? 3 : 0) + 1 + 2 + 2 * warnings.length + (approve ? 3 : 0) + 2;
  const budget = approve && rows !== undefined ? Math.max(3, rows - fixed - 1) : Number.POSITIVE_INFINITY;
  const heights = blocks.map((b) => 2 + linesOf(b).length);
  const { first, last } = visibleRange(heights, state.selected, budget);
  const shown = blocks.slice(first, last + 1);

  const renderBlock = (b: ChangeBlock) => {
    const index = blocks.indexOf(b);
    const selected = approve && index === state.selected;
    const marker = approve ? `${selected ? '❯' : ' '} ${open(b) ? '▾' : '▸'} ` : '';
    const indent = ' '.repeat(marker.length + 6);
    let lines: Line[] = linesOf(b);
    // One change taller than the screen: cut it, saying how much is left out.
    if (2 + lines.length > budget) {
      const keep = Math.max(0, budget - 3);
      lines = [...lines.slice(0, keep), { text: `… ${lines.length - keep} more lines`, tone: 'dim' }];
    }
    return (
      <Box key={b.address} flexDirection="column">
        <Text wrap={wrap} bold={selected} inverse={selected}>
          {marker}
          <Text {...paint(b.tone)}>{b.title}</Text>
        </Text>
        {lines.map((line, i) => (
          <Text key={i} wrap={wrap} bold={line.bold} {...paint(line.tone)}>
            {indent}
            {line.text}
          </Text>
        ))}
      </Box>
    );
  };

  const security = shown.filter((b) => b.security);
  const others = shown.filter((b) => !b.security);
  return (
    <Box flexDirection="column">
      <Text wrap={wrap}>
        <Text bold>{`SandboxShift ${plan.mode === 'destroy' ? 'destroy plan' : 'plan'} for project "${plan.project}"`}</Text>
        {plan.targets.length ? ` (targets: ${plan.targets.join(', ')})` : ''}
      </Text>
      <Text> </Text>
      {blocks.length === 0 ? (
        <Text {...paint('green')}>{`No changes. ${environments} environment${environments === 1 ? '' : 's'} match${environments === 1 ? 'es' : ''} the configuration.`}</Text>
      ) : (
        <>
          <Text dimColor>{SYMBOLS_LINE}</Text>
          <Text> </Text>
          {first > 0 ? <Text dimColor>{`  ↑ ${first} more above`}</Text> : null}
          {security.length > 0 ? (
            <Box flexDirection="column" borderStyle="round" borderColor={color ? 'red' : undefined} paddingX={1} marginBottom={1}>
              <Text bold {...paint('red')}>
                ! Security-relevant changes: read these first
              </Text>
              <Box flexDirection="column" rowGap={1}>
                {security.map(renderBlock)}
              </Box>
            </Box>
          ) : null}
          {others.length > 0 && blocks.some((b) => b.security) ? <Text bold>Other changes</Text> : null}
          <Box flexDirection="column" rowGap={1}>
            {others.map(renderBlock)}
          </Box>
          {last < blocks.length - 1 ? <Text dimColor>{`  ↓ ${blocks.length - 1 - last} more below`}</Text> : null}
          <Box marginTop={1}>
            <Text bold>{`Plan: ${planCounts(s)}.`}</Text>
          </Box>
        </>
      )}
      {warnings.map((w, i) => (
        <Box key={i} marginTop={1}>
          <Text {...paint('yellow')}>{formatDiagnostic(w)}</Text>
        </Box>
      ))}
      {approve ? <Footer plan={plan} decision={state.decision} paint={paint} /> : null}
    </Box>
  );
}

function Footer({ plan, decision, paint }: { plan: JsonPlan; decision: ReviewState['decision']; paint: (t?: Tone) => object }) {
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text bold>{questionFor(plan)}</Text>
      {decision === null ? <Text dimColor>{`  ${KEYS_LINE}`}</Text> : decision === 'approved' ? <Text {...paint('green')}>{'  Approved.'}</Text> : <Text {...paint('yellow')}>{'  Rejected.'}</Text>}
    </Box>
  );
}
