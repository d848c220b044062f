// Live apply progress: a line per finished resource (kept, in the plain output's words), a
// spinner, elapsed time and the latest build line for each running one, then the summary.
import { useEffect, useState } from 'react';
import { Box, Static, Text, useInput } from 'ink';
import type { ApplyResult } from '../../apply/events.js';
import { applyEventLine, applySummary } from '../apply-text.js';
import type { ApplyProgress, ResourceProgress } from './apply-progress.js';

export interface ApplyViewProps {
  progress: ApplyProgress;
  /** Set when the executor has finished: the summary is shown. */
  result: ApplyResult | null;
  color?: boolean;
  /** The clock elapsed times are measured on (the one the events were folded with). */
  now?: () => number;
  /** Ctrl-C: the terminal is in raw mode, so the key arrives here instead of as SIGINT. */
  onInterrupt?: () => void;
}

export const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const MARK = { done: '✓', failed: '✗', skipped: '-' } as const;

export function ApplyView({ progress, result, color = true, now = Date.now, onInterrupt }: ApplyViewProps) {
  const running = progress.resources.filter((r) => r.status === 'running');
  const waiting = progress.resources.filter((r) => r.status === 'waiting');
  const frame = useSpinner(running.length > 0 && result === null);
  useInput(
    (input, key) => {
      if (key.ctrl && input === 'c') onInterrupt?.();
    },
    { isActive: onInterrupt !== undefined && result === null },
  );
  const tone = (c: 'green' | 'red' | 'yellow') => (color ? c : undefined);
  const finished = progress.finished.map((a) => progress.resources.find((r) => r.address === a)).filter((r): r is ResourceProgress => r !== undefined && r.outcome !== null);

  return (
    <Box flexDirection="column" marginTop={1}>
      <Static items={finished}>
        {(r) => (
          <Text key={r.address} color={tone(r.status === 'done' ? 'green' : r.status === 'failed' ? 'red' : 'yellow')}>
            {`${MARK[r.status as keyof typeof MARK]} ${r.outcome}`}
          </Text>
        )}
      </Static>
      {running.map((r) => (
        <Box key={r.address} flexDirection="column">
          <Text wrap="truncate-end">
            <Text color={tone('yellow')}>{SPINNER[frame % SPINNER.length]}</Text>
            {` ${startLine(r)} ${seconds(now() - (r.startedAt ?? now()))}`}
            {r.step ? <Text dimColor>{` (${r.step})`}</Text> : null}
          </Text>
          {r.latest ? (
            <Text wrap="truncate-end" dimColor>
              {`    ${r.latest}`}
            </Text>
          ) : null}
        </Box>
      ))}
      {waiting.length > 0 && result === null ? <Text wrap="truncate-end" dimColor>{`· ${waiting.length} waiting: ${waiting.map((r) => r.address).join(', ')}`}</Text> : null}
      {result ? <Summary result={result} mode={progress.mode} tone={tone} /> : null}
    </Box>
  );
}

function Summary({ result, mode, tone }: { result: ApplyResult; mode: ApplyProgress['mode']; tone: (c: 'green' | 'red' | 'yellow') => string | undefined }) {
  const complete = result.failed.length === 0 && result.skipped.length === 0;
  const lines = applySummary(result, mode).trimEnd().split('\n');
  return (
    <Box flexDirection="column" marginTop={1}>
      {lines.map((line, i) => (
        <Text key={i} bold={i === 0} color={i === 0 ? tone(complete ? 'green' : 'red') : line.startsWith('  failed:') ? tone('red') : line.startsWith('  skipped:') ? tone('yellow') : undefined}>
          {line}
        </Text>
      ))}
    </Box>
  );
}

/** "environment.a: Creating..." as the plain output starts it. */
function startLine(r: ResourceProgress): string {
  return applyEventLine({ type: 'change-start', address: r.address, kind: r.kind }) ?? r.address;
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

/** A frame counter that ticks while `active`; the timer goes when the view does. */
function useSpinner(active: boolean): number {
  const [frame, setFrame] = useState(0);
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => setFrame((f) => f + 1), 100);
    return () => clearInterval(timer);
  }, [active]);
  return frame;
}
