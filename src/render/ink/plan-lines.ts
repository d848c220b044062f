// What the TUI shows for each change, as plain data (no React): the same facts as the text plan,
// plus line diffs of multi-line values. Built from the JSON plan only.
import { diffLines } from 'diff';
import type { EnvironmentView } from '../../plan/types.js';
import type { JsonChange, JsonPlan } from '../json.js';
import { SYMBOL, changeVerb, dataText, describeEnvironment, enforcementLine, workspaceLine } from '../text.js';

export type Tone = 'green' | 'red' | 'yellow' | 'dim';

export interface Line {
  text: string;
  tone?: Tone;
  bold?: boolean;
}

export interface ChangeBlock {
  address: string;
  /** Widens what the sandbox may reach, or deletes a workspace: shown first and highlighted. */
  security: boolean;
  /** e.g. "-/+ environment.agent must be replaced" */
  title: string;
  tone: Tone;
  /** Always shown: security notes, reasons, the data effect. */
  summary: Line[];
  /** Shown when the change is expanded: the environment, diffs, steps. */
  details: Line[];
}

export function isSecurityRelevant(c: JsonChange): boolean {
  return c.security.length > 0;
}

/** The plan's changes (no-ops left out), security-relevant ones first. */
export function changeBlocks(plan: JsonPlan): ChangeBlock[] {
  const changes = plan.resource_changes.filter((c) => c.kind !== 'no-op');
  const ordered = [...changes.filter(isSecurityRelevant), ...changes.filter((c) => !isSecurityRelevant(c))];
  return ordered.map(changeBlock);
}

export function changeBlock(c: JsonChange): ChangeBlock {
  return {
    address: c.address,
    security: isSecurityRelevant(c),
    title: `${SYMBOL[c.kind].padStart(3)} ${c.address} ${changeVerb(c)}`,
    tone: c.kind === 'create' ? 'green' : c.kind === 'delete' ? 'red' : 'yellow',
    summary: summaryLines(c),
    details: detailLines(c),
  };
}

const row = (label: string, value: string, extra: Omit<Line, 'text'> = {}): Line => ({ text: `${`${label}:`.padEnd(11)}${value}`.trimEnd(), ...extra });
const continuation = (value: string): Line => ({ text: `${' '.repeat(11)}${value}` });

function summaryLines(c: JsonChange): Line[] {
  const lines: Line[] = [];
  if (c.type === 'network') lines.push(row('network', c.name));
  if (c.type === 'image') lines.push(row(c.digest ? 'ref' : 'tag', c.image_ref ?? ''), ...(c.digest ? [row('digest', c.digest)] : []));
  for (const note of c.security) lines.push({ text: `! security: ${note}`, tone: 'red', bold: true });
  const reasons = c.reasons.map((r) => r.message);
  if (reasons.length > 0) lines.push(row('because', reasons[0] ?? ''), ...reasons.slice(1).map(continuation));
  if (c.type === 'environment') {
    const destroys = c.data_effect === 'destroys-workspace';
    lines.push(row('data', dataText(c), destroys ? { tone: 'red', bold: true } : {}));
  }
  return lines;
}

function detailLines(c: JsonChange): Line[] {
  const lines: Line[] = [];
  const { before, after } = c.change;
  if (c.type === 'environment') {
    if (before && after) lines.push(...compareViews(before, after));
    else {
      const view = after ?? before;
      if (view) describeEnvironment(view, (label, value) => lines.push(row(label, value)));
    }
    const ws = workspaceLine(c);
    if (ws) lines.push(row('workspace', ws));
    if (c.egress) lines.push(row('proxy', `${c.egress.proxyName} at ${c.egress.proxyAddress} on ${c.egress.network}`));
    const enforced = enforcementLine(c);
    if (enforced) lines.push(row('enforced', enforced));
  }
  if (c.verify && c.steps.includes('verify-image')) lines.push(row('verify', `the image contract, as its own USER${c.verify.allow_contract_mismatch ? ', contract mismatch allowed' : ''}`));
  if (c.steps.length > 0) lines.push(row('steps', c.steps.join(', '), { tone: 'dim' }));
  return lines;
}

/** Values that span lines, diffed line by line when they change. */
const MULTI_LINE: Record<string, (v: EnvironmentView) => string[]> = {
  env: (v) =>
    Object.entries(v.env)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, val]) => `${k}=${val}`),
  secrets: (v) => v.secrets.map((s) => `${s} (value hidden)`),
  command: (v) => v.command ?? [],
  egress: (v) => v.egress ?? [],
};

/** Every row of the environment before and after; unchanged rows dim, changed ones as diffs. */
function compareViews(before: EnvironmentView, after: EnvironmentView): Line[] {
  const rowsOf = (v: EnvironmentView) => {
    const rows = new Map<string, string>();
    describeEnvironment(v, (label, value) => rows.set(label, value));
    return rows;
  };
  const was = rowsOf(before);
  const now = rowsOf(after);
  const labels = [...now.keys(), ...[...was.keys()].filter((l) => !now.has(l))];
  const lines: Line[] = [];
  for (const label of labels) {
    const multi = MULTI_LINE[label];
    // The engine does not record an allow list on the container: no "before" to compare with.
    const comparable = label !== 'egress' || before.egress !== undefined;
    if (multi && comparable) {
      const a = multi(before);
      const b = multi(after);
      if (a.join('\n') === b.join('\n')) lines.push(row(label, now.get(label) ?? '', { tone: 'dim' }));
      else lines.push(row(label, ''), ...lineDiff(a, b));
      continue;
    }
    const old = was.get(label);
    const cur = now.get(label);
    if (old === cur || !comparable) lines.push(row(label, cur ?? '', { tone: 'dim' }));
    else if (old === undefined) lines.push(row(label, `${cur} (added)`, { tone: 'green' }));
    else if (cur === undefined) lines.push(row(label, `${old} (removed)`, { tone: 'red' }));
    else lines.push(row(label, `${old} → ${cur}`, { tone: 'yellow' }));
  }
  return lines;
}

/** `+`/`-`/` ` lines, as in a unified diff, from the diff package's line diff. */
export function lineDiff(before: readonly string[], after: readonly string[]): Line[] {
  const text = (lines: readonly string[]) => (lines.length ? `${lines.join('\n')}\n` : '');
  const out: Line[] = [];
  for (const part of diffLines(text(before), text(after))) {
    const mark = part.added ? '+' : part.removed ? '-' : ' ';
    const tone: Tone = part.added ? 'green' : part.removed ? 'red' : 'dim';
    for (const line of part.value.replace(/\n$/, '').split('\n')) out.push({ text: `  ${mark} ${line}`, tone });
  }
  return out;
}
