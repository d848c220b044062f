// The policy check: a pure function of (policy, the project's desired environments, what the
// other projects on the engine use now). Every violation names its rule and where in the
// project's config it comes from; the app layer turns that into FILE:LINE:COL.
import type { KeyPath } from '../config/key-path.js';
import { formatBytes } from '../config/units.js';
import { hostsOverlap } from './hosts.js';
import { imageRepository, repositoryMatcher } from './images.js';
import type { Policy, Totals } from './types.js';

/** One environment as the policy sees it. */
export interface PolicyEnvironment {
  name: string;
  /** The image's name in the config (`images.NAME`). */
  imageName: string;
  /** True when the config says `image: auto`: the environment chose its image. */
  autoImage: boolean;
  /** The reference the environment runs. */
  imageRef: string;
  /** Built by SandboxShift (its tag is the hash of its build context: pinned by content). */
  imageBuilt: boolean;
  runtime: string;
  cpus: number;
  memoryBytes: number;
  pids: number;
  /** The egress allow list; null without egress. */
  egressAllow: string[] | null;
  allowDangerous: string[];
  /** null: never stops when idle. */
  stopAfterSeconds: number | null;
}

export interface PolicySubject {
  project: string;
  environments: PolicyEnvironment[];
}

/** What the other projects on the engine use now (their environment containers). */
export interface EngineUsage {
  projects: number;
  environments: number;
  cpus: number;
  memoryBytes: number;
}

/**
 * Where a violation is in the config: a setting of an environment (written in the environment,
 * in `defaults`, or nowhere: then the environment itself), or a fixed key path.
 */
export type PolicyLocation = { env: string; setting: KeyPath } | { path: KeyPath };

export interface PolicyViolation {
  /** The rule, as written in the policy: `images.allow`, `engine.cpus`, ... */
  rule: string;
  message: string;
  at: PolicyLocation;
  hint: string;
}

/** The per-environment ceilings, each as the rule, the resources key and how its values read. */
const ENVIRONMENT_CEILINGS: ReadonlyArray<{ key: 'cpus' | 'memoryBytes' | 'pids'; setting: string; amount(v: number): string; show(v: number): string }> = [
  { key: 'cpus', setting: 'cpus', amount: (v) => `${v} CPUs`, show: String },
  { key: 'memoryBytes', setting: 'memory', amount: (v) => `${formatBytes(v)} of memory`, show: formatBytes },
  { key: 'pids', setting: 'pids', amount: (v) => `${v} processes`, show: String },
];

const ASK = "ask the engine's administrators to change the policy (see `sandboxshift policy show`)";

/**
 * `others`: what the other projects use now (null: engine-wide ceilings are not checked). `own`:
 * what this project's environments on the engine use now; an engine-wide ceiling already
 * exceeded (other projects grew, or the policy was tightened) refuses only a config that would
 * use more of it than the project does now, so shrinking is never refused.
 */
export function checkPolicy(policy: Policy, subject: PolicySubject, others: EngineUsage | null, own: Use | null = null): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  const allow = policy.images?.allow;
  const allowed = allow ? repositoryMatcher(allow) : null;
  const deny = policy.egress?.deny ?? [];
  const dangerous = policy.allowDangerous ? new Set<string>(policy.allowDangerous) : null;
  const reportedImages = new Set<string>();
  for (const e of subject.environments) {
    const imageAt: PolicyLocation = e.autoImage ? { env: e.name, setting: ['image'] } : { path: ['images', e.imageName, e.imageBuilt ? 'build' : 'ref'] };
    const imageKey = `${e.imageName}\0${e.autoImage ? e.name : ''}`;
    if (!reportedImages.has(imageKey)) {
      reportedImages.add(imageKey);
      const repo = imageRepository(e.imageRef);
      if (allowed && !allowed(repo)) {
        out.push({
          rule: 'images.allow',
          message: `image '${e.imageName}' (repository ${repo}) is not in the engine's allowed images (${allow!.join(', ')})`,
          at: imageAt,
          hint: `use an image whose repository matches one of them, or ${ASK}`,
        });
      }
      if (policy.images?.digestPinnedOnly && !e.imageBuilt && !e.imageRef.includes('@sha256:')) {
        out.push({ rule: 'images.digestPinnedOnly', message: `image '${e.imageName}' (${e.imageRef}) is not pinned by digest`, at: imageAt, hint: `write the reference as REPO@sha256:DIGEST` });
      }
    }
    if (policy.runtime && e.runtime !== policy.runtime) {
      out.push({
        rule: 'runtime',
        message: `environment '${e.name}' runs under ${e.runtime}; the engine's policy requires ${policy.runtime}`,
        at: { env: e.name, setting: ['runtime'] },
        hint: `set runtime: ${policy.runtime}`,
      });
    }
    const ceiling = policy.environment ?? {};
    for (const c of ENVIRONMENT_CEILINGS) {
      const limit = ceiling[c.key];
      if (limit === undefined || e[c.key] <= limit) continue;
      out.push({
        rule: `environment.${c.setting}`,
        message: `environment '${e.name}' asks for ${c.amount(e[c.key])}, more than the ${c.show(limit)} an environment may have`,
        at: { env: e.name, setting: ['resources', c.setting] },
        hint: `set resources.${c.setting} to ${c.show(limit)} or less`,
      });
    }
    if (e.egressAllow) {
      const max = policy.egress?.maxEntries;
      if (max !== undefined && e.egressAllow.length > max) {
        out.push({
          rule: 'egress.maxEntries',
          message: `environment '${e.name}' allows ${e.egressAllow.length} egress entries, more than the ${max} an allow list may have`,
          at: { env: e.name, setting: ['egress', 'allow'] },
          hint: `allow at most ${max} entries (a wildcard such as *.example.com covers many hosts)`,
        });
      }
      e.egressAllow.forEach((entry, i) => {
        const denied = deny.find((d) => hostsOverlap(entry, d));
        if (denied !== undefined) {
          out.push({
            rule: 'egress.deny',
            message: `environment '${e.name}' allows egress to '${entry}', which reaches '${denied}', a host the engine's policy denies to every allow list`,
            at: { env: e.name, setting: ['egress', 'allow', i] },
            hint: `remove '${entry}' (or narrow it so it cannot reach '${denied}')`,
          });
        }
      });
    }
    if (dangerous) {
      e.allowDangerous.forEach((value, i) => {
        if (dangerous.has(value)) return;
        const may = dangerous.size ? `only ${[...dangerous].join(', ')}` : 'none';
        out.push({
          rule: 'allowDangerous',
          message: `environment '${e.name}' uses allowDangerous value '${value}', which the engine's policy does not permit (permitted: ${may})`,
          at: { env: e.name, setting: ['allowDangerous', i] },
          hint: `remove '${value}' and the setting it allows, or ${ASK}`,
        });
      });
    }
    const idle = policy.idle ?? {};
    if (idle.required && e.stopAfterSeconds === null) {
      out.push({
        rule: 'idle.required',
        message: `environment '${e.name}' never stops when idle; the engine's policy requires an idle.stopAfter`,
        at: { env: e.name, setting: ['idle', 'stopAfter'] },
        hint: `set idle: { stopAfter: ${idle.maxStopAfterSeconds !== undefined ? formatDuration(idle.maxStopAfterSeconds) : '2h'} }`,
      });
    } else if (idle.maxStopAfterSeconds !== undefined && e.stopAfterSeconds !== null && e.stopAfterSeconds > idle.maxStopAfterSeconds) {
      out.push({
        rule: 'idle.maxStopAfter',
        message: `environment '${e.name}' stops after ${formatDuration(e.stopAfterSeconds)} idle, longer than the ${formatDuration(idle.maxStopAfterSeconds)} the engine's policy allows`,
        at: { env: e.name, setting: ['idle', 'stopAfter'] },
        hint: `set idle.stopAfter to ${formatDuration(idle.maxStopAfterSeconds)} or less`,
      });
    }
  }
  const mine = totalsOf(subject.environments);
  if (policy.project) out.push(...checkTotals('project', policy.project, mine, `project '${subject.project}'`, null));
  if (policy.engine && others) {
    const engine = { environments: others.environments + mine.environments, cpus: others.cpus + mine.cpus, memoryBytes: others.memoryBytes + mine.memoryBytes };
    const grows = (kind: keyof Use) => own === null || mine[kind] > own[kind];
    out.push(...checkTotals('engine', policy.engine, engine, 'the engine', { others, mine, project: subject.project }).filter((v) => grows(RULE_KIND[v.rule]!)));
  }
  return out;
}

const RULE_KIND: Record<string, keyof Use> = { 'engine.environments': 'environments', 'engine.cpus': 'cpus', 'engine.memory': 'memoryBytes' };

export interface Use {
  environments: number;
  cpus: number;
  memoryBytes: number;
}

function totalsOf(envs: readonly PolicyEnvironment[]): Use {
  return { environments: envs.length, cpus: round(envs.reduce((s, e) => s + e.cpus, 0)), memoryBytes: envs.reduce((s, e) => s + e.memoryBytes, 0) };
}

function checkTotals(scope: 'project' | 'engine', ceiling: Totals, use: Use, whose: string, engine: { others: EngineUsage; mine: Use; project: string } | null): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  const at: PolicyLocation = { path: ['environments'] };
  const now = (kind: keyof Use, fmt: (n: number) => string) =>
    !engine
      ? ''
      : engine.others.projects === 0
        ? ` (no other project uses any now; project '${engine.project}' wants ${fmt(engine.mine[kind])})`
        : ` (in use now by ${engine.others.projects} other project${engine.others.projects === 1 ? '' : 's'}: ${fmt(engine.others[kind])}; project '${engine.project}' wants ${fmt(engine.mine[kind])})`;
  const hint = scope === 'engine' ? `remove environments here or in other projects, or ${ASK}` : `remove or shrink environments, or ${ASK}`;
  const total = scope === 'engine' ? 'together ' : '';
  if (ceiling.environments !== undefined && use.environments > ceiling.environments) {
    out.push({
      rule: `${scope}.environments`,
      message: `${whose} would have ${total}${use.environments} environments, more than the ${ceiling.environments} allowed${now('environments', String)}`,
      at,
      hint,
    });
  }
  if (ceiling.cpus !== undefined && round(use.cpus) > ceiling.cpus) {
    out.push({ rule: `${scope}.cpus`, message: `${whose} would have ${total}${round(use.cpus)} CPUs, more than the ${ceiling.cpus} allowed${now('cpus', (n) => String(round(n)))}`, at, hint });
  }
  if (ceiling.memoryBytes !== undefined && use.memoryBytes > ceiling.memoryBytes) {
    out.push({
      rule: `${scope}.memory`,
      message: `${whose} would have ${total}${formatBytes(use.memoryBytes)} of memory, more than the ${formatBytes(ceiling.memoryBytes)} allowed${now('memoryBytes', formatBytes)}`,
      at,
      hint,
    });
  }
  return out;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** 28800 → `8h`, 5400 → `1h30m`. */
export function formatDuration(seconds: number): string {
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('') || '0s';
}
