// Checks the schema cannot express: references between sections, limits on parsed units, and
// the shape of egress entries. They run on unvalidated data too, so every problem in the file is
// reported in one go; each check looks only at values of the type it expects.

import type { Diagnostic } from '../diagnostics.js';
import { describeValue, isPlainObject } from './describe.js';
import { egressEntryHint, isEgressEntry } from './egress-entry.js';
import { durationExplanation, memoryExplanation, userExplanation } from './format-messages.js';
import { parseImageRef } from './image-ref.js';
import { formatPath, type KeyPath } from './key-path.js';
import { parseUser } from './raw-config.js';
import { checkSecretVariables } from './secret-checks.js';
import { SHIPPED_IMAGE_NAMES } from './shipped-images.js';
import { closestMatch } from './suggest.js';
import { formatBytes, MAX_CPUS, MAX_MEMORY_BYTES, MAX_PIDS, MIN_CPUS, MIN_MEMORY_BYTES, parseDuration, parseMemory } from './units.js';
import { checkVolumeEntries, checkVolumeOverlaps } from './volume-checks.js';
import { diagnosticAt, type ConfigSource } from './yaml-source.js';

export interface CheckContext {
  source: ConfigSource;
  /** True when the schema already reported a problem at this path: one message per place is enough. */
  flagged(path: KeyPath): boolean;
  report(diagnostic: Diagnostic): void;
}

export function checkReferencesAndUnits(data: unknown, ctx: CheckContext): void {
  const root = isPlainObject(data) ? data : {};
  const images = isPlainObject(root.images) ? Object.keys(root.images) : [];
  const environments = isPlainObject(root.environments) ? Object.keys(root.environments) : [];

  // A file with a problem at the top (often a misspelt `environments`) gets no extra warning about it.
  if (environments.length === 0 && !ctx.flagged([]) && !ctx.flagged(['environments'])) {
    const at: KeyPath = 'environments' in root ? ['environments'] : [];
    ctx.report(diagnosticAt(ctx.source, 'warning', at, 'key', 'no environments are defined: plan and apply will have nothing to do', 'add one under environments:, e.g. `agent: { image: auto }`'));
  }
  if (images.includes('auto')) {
    ctx.report(diagnosticAt(ctx.source, 'error', ['images', 'auto'], 'key', '\'auto\' cannot be an image name: `image: auto` already means "pick one for me"', 'rename this image'));
  }
  if (isPlainObject(root.images)) for (const [name, image] of Object.entries(root.images)) if (isPlainObject(image)) checkImageRef(name, image, ctx);
  checkCaseCollisions(environments, ctx);
  if (Array.isArray(root.moved)) checkMoved(root.moved, environments, ctx);
  checkReservedNames(environments, typeof root.project === 'string' ? root.project : 'PROJECT', ctx);
  checkSecretVariables(root, environments, ctx);

  if (isPlainObject(root.defaults)) checkSettings(root.defaults, ['defaults'], images, ctx);
  const reported = new Set<string>();
  for (const name of environments) {
    const settings = (root.environments as Record<string, unknown>)[name];
    if (isPlainObject(settings)) checkSettings(settings, ['environments', name], images, ctx);
    checkMergedVolumes(root, name, ctx, reported);
  }
}

/** `ref:` must be an image reference Docker accepts; a pullSecret with `pull: never` is never used. */
function checkImageRef(name: string, image: Record<string, unknown>, ctx: CheckContext): void {
  if (typeof image.ref === 'string' && !ctx.flagged(['images', name, 'ref'])) {
    const parsed = parseImageRef(image.ref);
    if (typeof parsed === 'string') {
      ctx.report(
        diagnosticAt(
          ctx.source,
          'error',
          ['images', name, 'ref'],
          'value',
          `images.${name}.ref is not an image reference: ${parsed}`,
          'write [REGISTRY[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST], e.g. registry.example.com:5000/team/app:1',
        ),
      );
    }
  }
  const push = isPlainObject(image.build) ? image.build.push : undefined;
  if (typeof push === 'string' && !ctx.flagged(['images', name, 'build', 'push'])) {
    const parsed = parseImageRef(push);
    const problem = typeof parsed === 'string' ? parsed : parsed.tag !== null || parsed.digest !== null ? 'it names a tag or digest; the content tag ctx-HASH is added' : null;
    if (problem) {
      ctx.report(
        diagnosticAt(
          ctx.source,
          'error',
          ['images', name, 'build', 'push'],
          'value',
          `images.${name}.build.push is not a repository: ${problem}`,
          'write REGISTRY[:PORT]/REPO, e.g. registry.example.com:5000/team/agent',
        ),
      );
    }
  }
  if (image.pull === 'never' && image.pullSecret !== undefined) {
    ctx.report(
      diagnosticAt(ctx.source, 'warning', ['images', name, 'pullSecret'], 'key', `images.${name}.pullSecret is never used: pull is never`, 'remove pullSecret, or set pull: if-not-present or always'),
    );
  }
}

/** An environment's volumes (its own merged over `defaults`, key by key) against each other and its mounts. */
function checkMergedVolumes(root: Record<string, unknown>, name: string, ctx: CheckContext, reported: Set<string>): void {
  const defaults = isPlainObject(root.defaults) ? root.defaults : {};
  const own = isPlainObject(root.environments) && isPlainObject(root.environments[name]) ? root.environments[name] : {};
  const entries = new Map<string, { name: string; path: string; at: KeyPath }>();
  for (const [block, at] of [
    [defaults, ['defaults', 'volumes']],
    [own, ['environments', name, 'volumes']],
  ] as const) {
    if (!isPlainObject(block.volumes)) continue;
    for (const [volume, path] of Object.entries(block.volumes)) if (typeof path === 'string') entries.set(volume, { name: volume, path, at: [...at, volume] });
  }
  const mountsAt: KeyPath = 'mounts' in own ? ['environments', name, 'mounts'] : ['defaults', 'mounts'];
  const mounts = 'mounts' in own ? own.mounts : defaults.mounts;
  const targets = Array.isArray(mounts)
    ? mounts.flatMap((m: unknown, i) =>
        isPlainObject(m) && typeof m.target === 'string' && m.target.startsWith('/') ? [{ target: m.target.replace(/(.)\/+$/, '$1'), at: [...mountsAt, i, 'target'] }] : [],
      )
    : [];
  checkVolumeOverlaps(name, [...entries.values()], targets, ctx, reported);
}

/**
 * Environment names whose engine objects would take a name SandboxShift already uses for
 * something else (see model/names.ts): the container `ss.PROJECT.lock` is the apply lock.
 */
export const RESERVED_ENVIRONMENT_NAMES: Readonly<Record<string, string>> = { lock: 'the apply lock' };

function checkReservedNames(names: readonly string[], project: string, ctx: CheckContext): void {
  for (const name of names) {
    const owner = RESERVED_ENVIRONMENT_NAMES[name];
    if (owner === undefined) continue;
    ctx.report(
      diagnosticAt(
        ctx.source,
        'error',
        ['environments', name],
        'key',
        `environment name '${name}' is reserved: its container would be named ss.${project}.${name}, the name of ${owner}`,
        `rename the environment, e.g. '${name}-env'`,
      ),
    );
  }
}

function checkCaseCollisions(names: readonly string[], ctx: CheckContext): void {
  const firstByLowerCase = new Map<string, string>();
  for (const name of names) {
    const earlier = firstByLowerCase.get(name.toLowerCase());
    if (earlier === undefined) {
      firstByLowerCase.set(name.toLowerCase(), name);
      continue;
    }
    ctx.report(
      diagnosticAt(
        ctx.source,
        'error',
        ['environments', name],
        'key',
        `environment '${name}' differs from '${earlier}' only in case`,
        'Docker names are case-insensitive in places, so the two would collide: rename one',
      ),
    );
  }
}

/** `moved` entries: from an old name that is gone to a new one that exists, each name once. */
function checkMoved(moved: unknown[], environments: readonly string[], ctx: CheckContext): void {
  const froms = new Map<string, number>();
  const tos = new Map<string, number>();
  moved.forEach((entry, i) => {
    if (!isPlainObject(entry) || typeof entry.from !== 'string' || typeof entry.to !== 'string') return;
    const { from, to } = entry;
    const at = (key: string): KeyPath => ['moved', i, key];
    if (environments.includes(from)) {
      ctx.report(
        diagnosticAt(ctx.source, 'error', at('from'), 'value', `moved: '${from}' is still under environments, so it cannot have moved`, `remove environments.${from}, or remove this moved entry`),
      );
    }
    if (!environments.includes(to)) {
      const guess = closestMatch(to, environments);
      ctx.report(diagnosticAt(ctx.source, 'error', at('to'), 'value', `moved: '${to}' is not an environment`, guess ? `did you mean '${guess}'?` : `add environments.${to}, or fix the name`));
    }
    if (from === to) ctx.report(diagnosticAt(ctx.source, 'error', at('to'), 'value', `moved: '${from}' moves to itself`, 'remove this entry'));
    const seenFrom = froms.get(from);
    if (seenFrom !== undefined)
      ctx.report(diagnosticAt(ctx.source, 'error', at('from'), 'value', `moved: '${from}' is moved twice (also in moved[${seenFrom}])`, 'a workspace can follow one environment only: keep one entry'));
    const seenTo = tos.get(to);
    if (seenTo !== undefined)
      ctx.report(diagnosticAt(ctx.source, 'error', at('to'), 'value', `moved: two workspaces move into '${to}' (also in moved[${seenTo}])`, 'an environment has one workspace: keep one entry'));
    froms.set(from, froms.get(from) ?? i);
    tos.set(to, tos.get(to) ?? i);
  });
  for (const [from, i] of froms) {
    if (tos.has(from) && tos.get(from) !== i)
      ctx.report(
        diagnosticAt(
          ctx.source,
          'error',
          ['moved', i, 'from'],
          'value',
          `moved: '${from}' is both moved from and moved to (a chain)`,
          'write one entry per environment, from the name whose workspace is on the engine now to the newest name',
        ),
      );
  }
}

/** Checks one block of settings: `defaults` or one environment. */
function checkSettings(settings: Record<string, unknown>, at: KeyPath, images: readonly string[], ctx: CheckContext): void {
  const error = (path: KeyPath, pointAt: 'key' | 'value', message: string, hint?: string) => ctx.report(diagnosticAt(ctx.source, 'error', path, pointAt, message, hint));

  const image = settings.image;
  // The shipped images (python, node, multi, pi) can be named without defining them.
  const shipped: readonly string[] = SHIPPED_IMAGE_NAMES;
  if (typeof image === 'string' && image !== 'auto' && !images.includes(image) && !shipped.includes(image)) {
    error([...at, 'image'], 'value', `image '${image}' is not defined under images`, imageHint(image, images));
  }

  const resources = isPlainObject(settings.resources) ? settings.resources : {};
  const memoryPath = [...at, 'resources', 'memory'];
  const memory = resources.memory;
  if ((typeof memory === 'string' || typeof memory === 'number') && !ctx.flagged(memoryPath)) {
    const bytes = parseMemory(memory);
    if (bytes === undefined) {
      const { message, hint } = memoryExplanation("'memory'", describeValue(memory));
      error(memoryPath, 'value', message, hint);
    } else if (bytes < MIN_MEMORY_BYTES) {
      error(memoryPath, 'value', `'memory' is ${formatBytes(bytes)}, below Docker's minimum of ${formatBytes(MIN_MEMORY_BYTES)}`, 'use at least 6m; 512m suits most environments');
    } else if (!Number.isSafeInteger(bytes) || bytes > MAX_MEMORY_BYTES) {
      error(
        memoryPath,
        'value',
        `'memory' is ${describeValue(memory)}, above the most a limit can be (${formatBytes(MAX_MEMORY_BYTES)})`,
        "write what the environment needs, e.g. 2g; plan also checks it against the engine's memory",
      );
    }
  }

  const cpusPath = [...at, 'resources', 'cpus'];
  const cpus = resources.cpus;
  if (typeof cpus === 'number' && Number.isFinite(cpus) && cpus > 0 && !ctx.flagged(cpusPath)) {
    if (cpus < MIN_CPUS) error(cpusPath, 'value', `'cpus' is ${cpus}, below Docker's minimum of ${MIN_CPUS}`, 'use at least 0.01; 0.5 or 1 suits most environments');
    else if (cpus > MAX_CPUS)
      error(cpusPath, 'value', `'cpus' is ${cpus}, above the most a limit can be (${MAX_CPUS})`, "write what the environment needs, e.g. 2; plan also checks it against the engine's CPUs");
  }

  const pidsPath = [...at, 'resources', 'pids'];
  const pids = resources.pids;
  if (typeof pids === 'number' && Number.isFinite(pids) && !ctx.flagged(pidsPath) && pids > MAX_PIDS) {
    error(pidsPath, 'value', `'pids' is ${describeValue(pids)}, above the most Linux allows (${MAX_PIDS})`, 'write what the environment needs; 256 suits most environments');
  }

  const idle = isPlainObject(settings.idle) ? settings.idle : {};
  const stopAfterPath = [...at, 'idle', 'stopAfter'];
  if (typeof idle.stopAfter === 'string' && !ctx.flagged(stopAfterPath)) {
    const seconds = parseDuration(idle.stopAfter);
    if (seconds === undefined) {
      const { message, hint } = durationExplanation("'stopAfter'", describeValue(idle.stopAfter));
      error(stopAfterPath, 'value', message, hint);
    } else if (seconds === 0) {
      error(stopAfterPath, 'value', "'stopAfter' must be longer than 0s", 'write never to keep the environment running');
    } else if (seconds === null && idle.action === 'pause') {
      const actionPath = [...at, 'idle', 'action'];
      ctx.report(diagnosticAt(ctx.source, 'warning', actionPath, 'value', "'action: pause' has no effect with 'stopAfter: never'", 'write a duration, e.g. stopAfter: 30m, or leave action out'));
    }
  }

  const userPath = [...at, 'user'];
  if (settings.user !== undefined && !ctx.flagged(userPath) && parseUser(settings.user) === undefined) {
    const { message, hint } = userExplanation("'user'", settings.user);
    error(userPath, 'value', message, hint);
  }

  const egress = isPlainObject(settings.egress) ? settings.egress : {};
  if (Array.isArray(egress.allow)) {
    egress.allow.forEach((entry: unknown, i) => {
      if (typeof entry === 'string' && !isEgressEntry(entry)) {
        error([...at, 'egress', 'allow', i], 'value', `egress entry '${entry}' is not a domain, host:port or CIDR`, egressEntryHint(entry));
      }
    });
  }

  const workspace = isPlainObject(settings.workspace) ? settings.workspace : {};
  if (at[0] === 'defaults' && 'adopt' in workspace) {
    error([...at, 'workspace', 'adopt'], 'key', "'adopt' cannot be set in defaults", 'adopt a volume on the environment whose volume you checked: environments.NAME.workspace.adopt');
  }
  if (workspace.adopt === true && ('from' in workspace || 'git' in workspace)) {
    error([...at, 'workspace', 'adopt'], 'key', 'an adopted volume is never seeded: adopt cannot be combined with from or git', `remove ${formatPath([...at, 'workspace', 'adopt'])}, or the seed`);
  }
  if ('hostPath' in workspace) {
    const other = ['from', 'git', 'adopt'].find((k) => k in workspace);
    if (other) {
      error(
        [...at, 'workspace', 'hostPath'],
        'key',
        `a host folder as /workspace is used as it is: hostPath cannot be combined with ${other}`,
        `remove ${formatPath([...at, 'workspace', 'hostPath'])}, or ${formatPath([...at, 'workspace', other])}`,
      );
    }
  }
  checkVolumeEntries(settings.volumes, [...at, 'volumes'], ctx);
  if ('from' in workspace && 'git' in workspace) {
    error(
      [...at, 'workspace', 'git'],
      'key',
      "workspace can be seeded from a folder ('from') or from 'git', not both",
      `remove ${formatPath([...at, 'workspace', 'from'])} or ${formatPath([...at, 'workspace', 'git'])}`,
    );
  }

  if (Array.isArray(settings.mounts)) {
    settings.mounts.forEach((mount: unknown, i) => {
      const target = isPlainObject(mount) ? mount.target : undefined;
      if (typeof target === 'string' && target !== '' && !target.startsWith('/')) {
        error([...at, 'mounts', i, 'target'], 'value', `mount target '${target}' must be an absolute path inside the container`, `e.g. /${target.replace(/^\.?\/*/, '')}`);
      }
    });
  }
}

function imageHint(image: string, images: readonly string[]): string {
  const guess = closestMatch(image, images);
  if (guess !== undefined) return `did you mean '${guess}'?`;
  if (/[:/.]/.test(image)) {
    return `image: takes a name from images:, not a reference; add e.g. images: { my-image: { ref: ${image} } } and write image: my-image`;
  }
  const known = images.length > 0 ? `defined images: ${images.join(', ')}; ` : '';
  return `${known}define '${image}' under images:, or write image: auto`;
}
