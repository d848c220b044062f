// Terraform-style text plan, built from the JSON plan so every renderer says the same thing.
import { formatDiagnostic } from '../diagnostics.js';
import { enforcementText } from '../model/egress.js';
import { PROXY_PORT } from '../model/names.js';
import { imageWork, type ImageWork } from '../apply/events.js';
import type { ChangeKind, DataEffect, EnvironmentView } from '../plan/types.js';
import type { JsonChange, JsonPlan } from './json.js';
import { plainStyle, type Style } from './style.js';

export const SYMBOL: Record<ChangeKind, string> = { create: '+', replace: '-/+', update: '~', start: '>', delete: '-', 'no-op': ' ' };
export const VERB: Record<ChangeKind, string> = {
  create: 'will be created',
  replace: 'must be replaced',
  update: 'will be updated in place',
  start: 'will be started',
  delete: 'will be destroyed',
  'no-op': 'is up to date',
};

const IMAGE_VERB: Record<ImageWork, string> = { build: 'will be built', pull: 'will be pulled', push: 'will be pushed' };

/** `will be pulled` / `will be built` / `will be pushed` for an image made, the kind's verb otherwise. */
export function changeVerb(c: JsonChange): string {
  return c.type === 'image' && c.kind === 'create' ? IMAGE_VERB[imageWork(c.steps)] : VERB[c.kind];
}

export const DATA_EFFECT_TEXT: Record<DataEffect, string> = {
  none: 'none',
  restart: 'processes restart; container and /workspace kept',
  recreate: 'new container; /workspace kept',
  'delete-keeps-workspace': 'container removed; /workspace volume kept',
  'destroys-workspace': '/workspace volume DELETED',
};

export function renderText(plan: JsonPlan, style: Style = plainStyle): string {
  const out: string[] = [];
  const warnings = plan.diagnostics.filter((d) => d.severity === 'warning');
  const changes = plan.resource_changes.filter((c) => c.kind !== 'no-op');
  const environments = plan.resource_changes.filter((c) => c.type === 'environment');
  const title = plan.mode === 'destroy' ? 'destroy plan' : 'plan';
  out.push(style.bold(`SandboxShift ${title} for project "${plan.project}"`) + (plan.targets.length ? ` (targets: ${plan.targets.join(', ')})` : ''));
  out.push('');
  if (changes.length === 0) {
    const total = environments.length;
    out.push(style.green(`No changes. ${total} environment${total === 1 ? '' : 's'} match${total === 1 ? 'es' : ''} the configuration.`));
  } else {
    out.push('Symbols: + create, ~ update in place, > start, -/+ replace, - destroy');
    out.push('');
    // Security-relevant changes first, so they cannot hide in a long plan.
    const ordered = [...changes.filter((c) => c.security.length > 0), ...changes.filter((c) => c.security.length === 0)];
    for (const c of ordered) out.push(...renderChange(c, style), '');
    out.push(style.bold(`Plan: ${planCounts(plan.summary)}.`));
  }
  // Left as an idle policy or a running cp left them: not drift, nothing proposed; said so they are not a surprise.
  const leftAlone = (r: { code: string }) => r.code === 'idle' || r.code === 'copying';
  const idle = plan.resource_changes.filter((c) => c.kind === 'no-op' && c.reasons.some(leftAlone));
  if (idle.length) out.push('', ...idle.map((c) => `    ${c.address} is ${c.reasons.find(leftAlone)!.message}`));
  for (const w of warnings) out.push('', style.yellow(formatDiagnostic(w)));
  return `${out.join('\n')}\n`;
}

/** `1 to pull, 1 to build, 2 to add, 0 to change, 0 to destroy`: the image counts only when not zero. */
export function planCounts(s: JsonPlan['summary']): string {
  const images = `${s.build > 0 ? `${s.build} to build, ` : ''}${s.pull ? `${s.pull} to pull, ` : ''}${s.push ? `${s.push} to push, ` : ''}`;
  return `${images}${s.add} to add, ${s.change} to change, ${s.destroy} to destroy`;
}

function renderChange(c: JsonChange, style: Style): string[] {
  const color = c.kind === 'create' ? style.green : c.kind === 'delete' ? style.red : style.yellow;
  const lines = [color(`${SYMBOL[c.kind].padStart(3)} ${c.address} ${changeVerb(c)}`)];
  const row = (label: string, value: string) => lines.push(`      ${`${label}:`.padEnd(11)}${value}`);
  if (c.type === 'network') {
    row('network', c.name);
    row('because', c.reasons.map((r) => r.message).join('; '));
    return lines;
  }
  if (c.type === 'image') {
    row(c.digest ? 'ref' : 'tag', c.image_ref ?? '');
    if (c.digest) row('digest', c.digest);
    if (c.push) row('push', c.push);
    row('because', c.reasons.map((r) => r.message).join('; '));
    return lines;
  }
  for (const note of c.security) lines.push(style.red(style.bold(`      ! security: ${note}`)));
  const view = c.change.after ?? c.change.before;
  if (view && (c.kind === 'create' || c.kind === 'delete')) describeEnvironment(view, row);
  const reasonLines = c.reasons.map((r) => r.message);
  if (reasonLines.length === 1) row('because', reasonLines[0] ?? '');
  else if (reasonLines.length > 1) {
    row('because', reasonLines[0] ?? '');
    for (const r of reasonLines.slice(1)) lines.push(`${' '.repeat(17)}${r}`);
  }
  const effect = dataText(c);
  row('data', c.data_effect === 'destroys-workspace' ? style.red(style.bold(effect)) : effect);
  const ws = workspaceLine(c);
  if (ws) row('workspace', ws);
  const enforced = enforcementLine(c);
  if (enforced) row('enforced', enforced);
  return lines;
}

/** How an environment's allow list is enforced, for a change that makes or keeps one; null otherwise. */
export function enforcementLine(c: JsonChange): string | null {
  if (c.type !== 'environment' || !c.egress || c.kind === 'delete') return null;
  return enforcementText(c.egress, PROXY_PORT);
}

/** The data effect, and what happens to each extra named volume: `…; volumes: data (/data) kept, cache (/cache) new`. */
export function dataText(c: JsonChange): string {
  const effect = DATA_EFFECT_TEXT[c.data_effect];
  const volumes = c.volumes ?? [];
  if (volumes.length === 0) return effect;
  const word = { create: 'new', keep: 'kept', delete: 'DELETED' } as const;
  return `${effect}; volumes: ${volumes.map((v) => `${v.name}${v.path ? ` (${v.path})` : ''} ${word[v.action]}`).join(', ')}`;
}

/** What happens to the /workspace volume, when the change makes or takes one; null otherwise. */
export function workspaceLine(c: JsonChange, code: (s: string) => string = (s) => s): string | null {
  if (c.host_workspace && c.kind !== 'delete') return `host folder ${code(c.host_workspace.path)} (owner ${c.host_workspace.uid}:${c.host_workspace.gid})`;
  if (c.type !== 'environment' || c.workspace === 'keep' || c.workspace === 'delete') return null;
  if (c.workspace === 'reuse') {
    const adopted = c.reasons.some((r) => r.code === 'adopted');
    return `existing volume ${code(c.volume_name)} ${adopted ? 'adopted as it is' : 'reused'}`;
  }
  const seed = c.change.after?.seed;
  const from =
    c.steps.includes('copy-workspace') && c.moved_from
      ? `, its files copied from ${code(c.moved_from.volume)}`
      : c.steps.includes('seed-workspace')
        ? `, seeded once from ${seed ? code(seed) : 'the workspace source'}`
        : '';
  return `new volume ${code(c.volume_name)}${from}`;
}

/** The rows a created or destroyed environment is shown with; the TUI shows the same. */
export function describeEnvironment(v: EnvironmentView, row: (label: string, value: string) => void): void {
  row('image', `${v.image}${v.imageDigest ? ` @ ${v.imageDigest}` : ''}${v.imageNote ? ` (auto: ${v.imageNote})` : ''}`);
  row('runtime', `${v.runtime}, user ${v.user}, network ${v.network}${v.privileged ? ', PRIVILEGED' : ''}`);
  row('resources', `${v.resources.cpus} cpu, ${v.resources.memory}, ${v.resources.pids} pids`);
  const env = Object.keys(v.env);
  if (env.length) row('env', env.join(', '));
  if (v.secrets.length) row('secrets', `${v.secrets.join(', ')} (values hidden)`);
  if (v.command) row('command', JSON.stringify(v.command));
  if (v.egress) row('egress', v.egress.length ? `only ${v.egress.join(', ')} (through its proxy)` : 'none (no network)');
  if (v.protect) row('protect', 'true');
}
