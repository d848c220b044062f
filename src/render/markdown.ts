// Markdown plan for a pull-request comment, built from the JSON plan like every renderer:
// title and summary, security-relevant changes first, a table, then one collapsible section
// per environment with its reasons and an attribute diff. Secrets appear by name only (the
// JSON plan has no values), and the body never exceeds the comment size limit.
import { diffLines } from 'diff';
import { imageWork } from '../apply/events.js';
import { formatDiagnostic } from '../diagnostics.js';
import type { EnvironmentView } from '../plan/types.js';
import type { JsonChange, JsonPlan } from './json.js';
import { dataText, enforcementLine, planCounts, workspaceLine } from './text.js';

/** GitHub refuses comments over 65,536 characters; this leaves room for a marker line. */
export const MARKDOWN_MAX_CHARS = 65_000;

export interface MarkdownOptions {
  maxChars?: number;
  /** A plain-text line under the title, e.g. which commits were compared. */
  note?: string;
}

const ACTION: Record<JsonChange['kind'], string> = {
  create: 'create',
  replace: 'replace',
  update: 'update in place',
  start: 'start',
  delete: 'destroy',
  'no-op': 'no change',
};

export function renderMarkdown(plan: JsonPlan, options: MarkdownOptions = {}): string {
  const maxChars = options.maxChars ?? MARKDOWN_MAX_CHARS;
  const changes = plan.resource_changes.filter((c) => c.kind !== 'no-op');
  // Security-relevant changes first, so they cannot hide in a long plan (as in the text plan).
  const flagged = changes.filter((c) => securityNotes(c).length > 0);
  const ordered = [...flagged, ...changes.filter((c) => !flagged.includes(c))];
  // A no-op can still matter: dropping `protect` changes nothing on the engine now.
  const noted = [...flagged, ...plan.resource_changes.filter((c) => c.kind === 'no-op' && securityNotes(c).length > 0)];

  const head = [title(plan), ...(options.note ? [inline(options.note)] : []), summaryLine(plan, changes.length)];
  if (noted.length) head.push(securityCallout(noted).join('\n'));
  const warnings = plan.diagnostics.filter((d) => d.severity === 'warning').map((d) => `- ${inline(formatDiagnostic(d))}`);
  return fit(
    {
      head,
      table: changes.length ? tableRows(ordered) : null,
      warnings: warnings.length ? ['**Warnings**', '', ...warnings].join('\n') : null,
      details: ordered.filter((c) => c.type === 'environment').map(detailsSection),
    },
    maxChars,
  );
}

function title(plan: JsonPlan): string {
  const kind = plan.mode === 'destroy' ? 'destroy plan' : 'plan';
  const targets = plan.targets.length ? ` (targets: ${plan.targets.map(inline).join(', ')})` : '';
  return `### SandboxShift ${kind} for \`${plan.project}\`${targets}`;
}

function summaryLine(plan: JsonPlan, changeCount: number): string {
  if (changeCount === 0) {
    const total = plan.resource_changes.filter((c) => c.type === 'environment').length;
    return `**No changes.** ${total} environment${total === 1 ? '' : 's'} match${total === 1 ? 'es' : ''} the configuration.`;
  }
  return `**Plan:** ${planCounts(plan.summary)}`;
}

/** What a reviewer must not miss in a change: the planner's security notes (a deleted workspace among them). */
export function securityNotes(c: JsonChange): string[] {
  return c.security;
}

function securityCallout(changes: JsonChange[]): string[] {
  const lines = ['> [!WARNING]', '> **Security-relevant changes.** Review these first.'];
  for (const c of changes) for (const note of securityNotes(c)) lines.push(`> - \`${c.address}\`: ${inline(note)}`);
  return lines;
}

function tableRows(changes: JsonChange[]): { header: string[]; rows: string[] } {
  const header = ['| resource | action | data effect | reasons |', '| --- | --- | --- | --- |'];
  const rows = changes.map((c) => {
    const action = c.type === 'image' && c.kind === 'create' ? imageWork(c.steps) : ACTION[c.kind];
    const flag = securityNotes(c).length ? ' ⚠️' : '';
    return `| \`${c.address}\`${flag} | ${action} | ${dataEffect(c)} | ${c.reasons.map((r) => inline(r.message)).join('<br>')} |`;
  });
  return { header, rows };
}

function dataEffect(c: JsonChange): string {
  const text = inline(dataText(c));
  return c.data_effect === 'destroys-workspace' ? `**${text}**` : text;
}

function detailsSection(c: JsonChange): string {
  const notes = securityNotes(c);
  const open = notes.length ? ' open' : '';
  const summary = `${notes.length ? '⚠️ ' : ''}<code>${html(c.address)}</code>: ${ACTION[c.kind]} · data: ${html(dataText(c))}`;
  const out = [`<details${open}><summary>${summary}</summary>`, ''];
  for (const note of notes) out.push(`**Security:** ${inline(note)}`, '');
  if (c.push) out.push(`**Push:** \`${c.push}\``, '');
  if (c.digest) out.push(`**Digest:** \`${c.digest}\` (pulled exactly)`, '');
  if (c.reasons.length) out.push('**Because**', '', ...c.reasons.map((r) => `- ${inline(r.message)}`), '');
  const imageNote = c.change.after?.imageNote;
  if (imageNote) out.push(`**Image:** chosen by \`image: auto\` (${inline(imageNote)})`, '');
  const ws = workspaceLine(c, (s) => `\`${s}\``);
  if (ws) out.push(`**Workspace:** ${ws}`, '');
  const enforced = enforcementLine(c);
  if (enforced) out.push(`**Egress enforced by:** ${inline(enforced)}`, '');
  const diff = attributeDiff(c.change.before, c.change.after);
  if (diff) out.push(diff, '');
  out.push('</details>');
  return out.join('\n');
}

/** before → after as a ```diff block of YAML-like attribute lines; null when they are equal. */
function attributeDiff(before: EnvironmentView | null, after: EnvironmentView | null): string | null {
  // The engine does not record an allow list on the container: compare it only when both sides know it.
  const egress = (before === null || before.egress !== undefined) && (after === null || after.egress !== undefined);
  const a = before ? attributeLines(before, egress) : '';
  const b = after ? attributeLines(after, egress) : '';
  if (a === b) return null;
  const lines: string[] = [];
  for (const part of diffLines(a, b)) {
    const mark = part.added ? '+' : part.removed ? '-' : ' ';
    for (const line of part.value.replace(/\n$/, '').split('\n')) lines.push(`${mark} ${line}`);
  }
  const body = lines.join('\n');
  const longest = (body.match(/`+/g) ?? []).reduce((n, run) => Math.max(n, run.length), 0);
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}diff\n${body}\n${fence}`;
}

function attributeLines(v: EnvironmentView, withEgress: boolean): string {
  const out = [
    `image: ${v.image}${v.imageDigest ? ` @ ${v.imageDigest}` : ''}`,
    `runtime: ${v.runtime}`,
    `user: ${v.user}`,
    `network: ${v.network}`,
    `privileged: ${v.privileged}`,
    'resources:',
    `  cpus: ${v.resources.cpus}`,
    `  memory: ${v.resources.memory}`,
    `  pids: ${v.resources.pids}`,
  ];
  const env = Object.keys(v.env).sort();
  if (env.length) out.push('env:', ...env.flatMap((k) => scalar(`  ${k}:`, v.env[k] ?? '', '    ')));
  if (v.secrets.length) out.push(`secrets: [${v.secrets.join(', ')}]  # names only, values hidden`);
  if (v.command) out.push('command:', ...v.command.flatMap((arg) => scalar('  -', arg, '    ')));
  if (withEgress && v.egress) out.push(v.egress.length ? `egress: [${v.egress.join(', ')}]` : 'egress: none');
  out.push(`protect: ${v.protect}`);
  return `${out.join('\n')}\n`;
}

/** A value as JSON on one line, or as a YAML block (`|-`: no final newline) so a multi-line script diffs line by line. */
function scalar(prefix: string, value: string, indent: string): string[] {
  if (!value.includes('\n')) return [`${prefix} ${JSON.stringify(value)}`];
  const keep = value.endsWith('\n');
  return [`${prefix} ${keep ? '|' : '|-'}`, ...(keep ? value.slice(0, -1) : value).split('\n').map((line) => `${indent}${line}`)];
}

/** Plain text made safe for one line of Markdown: no formatting, links, HTML or table cells break out. */
function inline(text: string): string {
  return text
    .replace(/[\\`*_[\]|~]/g, (ch) => `\\${ch}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r?\n\s*/g, '<br>');
}

function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface Parts {
  /** Title, note, summary and the security callout: kept whenever anything is. */
  head: string[];
  table: { header: string[]; rows: string[] } | null;
  warnings: string | null;
  /** One per environment, in order; dropped from the end first. */
  details: string[];
}

const SEP = '\n\n';

/** Lengths of the first k items, for k = 0..n: each body size below is then a sum, not a join. */
function prefixSums(items: readonly string[], separator: number): number[] {
  const sums = [0];
  for (const item of items) sums.push(sums[sums.length - 1]! + item.length + separator);
  return sums;
}

function omittedNote(environments: number, resources: number): string {
  const envs = `${environments} more environment${environments === 1 ? '' : 's'} not shown`;
  const rows = resources > 0 ? ` and ${resources} more resource${resources === 1 ? '' : 's'} left out of the table` : '';
  return `_${envs}${rows} (comment size limit); run sandboxshift plan locally for the full plan._`;
}

/**
 * The body within maxChars: whole details sections dropped from the end first, then table
 * rows, and only then a cut at a line boundary; each time an honest note says what is missing.
 */
function fit(parts: Parts, maxChars: number): string {
  const { head, table, warnings, details } = parts;
  const tableBlock = (rows: number) => (table && rows > 0 ? [[...table.header, ...table.rows.slice(0, rows)].join('\n')] : []);
  const tail = warnings ? [warnings] : [];
  const allRows = table?.rows.length ?? 0;
  // Blocks are joined with SEP and the body ends with one newline.
  const fixed = [...head, ...tableBlock(allRows), ...tail];
  const fixedSize = fixed.reduce((n, b) => n + b.length + SEP.length, 0) - SEP.length + 1;
  const detailSums = prefixSums(details, SEP.length);
  if (fixedSize + detailSums[details.length]! <= maxChars) return `${[...fixed, ...details].join(SEP)}\n`;
  for (let keep = details.length - 1; keep >= 0; keep--) {
    const note = omittedNote(details.length - keep, 0);
    if (fixedSize + detailSums[keep]! + SEP.length + note.length <= maxChars) return `${[...fixed, ...details.slice(0, keep), note].join(SEP)}\n`;
  }
  const headSize = head.reduce((n, b) => n + b.length + SEP.length, 0);
  const tailSize = tail.reduce((n, b) => n + b.length + SEP.length, 0);
  if (table) {
    const headerSize = table.header.join('\n').length;
    const rowSums = prefixSums(table.rows, 1);
    for (let keep = allRows - 1; keep >= 0; keep--) {
      const note = omittedNote(details.length, allRows - keep);
      const rowsSize = keep > 0 ? headerSize + rowSums[keep]! + SEP.length : 0;
      if (headSize + rowsSize + tailSize + note.length + 1 <= maxChars) return `${[...head, ...tableBlock(keep), ...tail, note].join(SEP)}\n`;
    }
  }
  // Even the head and the security callout are too long: keep whole lines from the top.
  const note = omittedNote(details.length, allRows);
  const budget = maxChars - note.length - SEP.length - 1;
  const text = head.join(SEP);
  const cut = text.length <= budget ? text : budget > 0 ? text.slice(0, text.lastIndexOf('\n', budget) + 1) : '';
  const body = cut.trim() ? `${cut.replace(/\s+$/, '')}${SEP}${note}\n` : `${note}\n`;
  return body.length <= maxChars ? body : body.slice(0, maxChars);
}
