// Checks on `volumes:` and `workspace.hostPath` the schema cannot express: where a volume may be
// mounted, and that no two things are mounted on each other. Run on unvalidated data.

import { posix } from 'node:path';
import { isPlainObject } from './describe.js';
import type { KeyPath } from './key-path.js';
import type { CheckContext } from './semantic-checks.js';
import { diagnosticAt } from './yaml-source.js';

/** Paths a volume may not be on, at or under (the secrets and the kernel's own file systems). */
const RESERVED_PATHS = ['/workspace', '/run/secrets', '/proc', '/sys', '/dev'];

/** Whether `a` and `b` are the same path or one lies under the other. */
export function pathsOverlap(a: string, b: string): boolean {
  const under = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);
  return under(a, b) || under(b, a);
}

/** Problems with one `volumes:` block (defaults or one environment), each entry on its own. */
export function checkVolumeEntries(volumes: unknown, at: KeyPath, ctx: CheckContext): void {
  if (!isPlainObject(volumes)) return;
  for (const [name, path] of Object.entries(volumes)) {
    const here: KeyPath = [...at, name];
    if (name === 'workspace') {
      ctx.report(diagnosticAt(ctx.source, 'error', here, 'key', "'workspace' cannot be a volume name: it is the name of the /workspace volume", 'pick another name, e.g. data'));
    }
    if (typeof path !== 'string' || path === '' || ctx.flagged(here)) continue;
    const problem = pathProblem(path);
    if (problem) ctx.report(diagnosticAt(ctx.source, 'error', here, 'value', `volume '${name}': ${problem.message}`, problem.hint));
  }
}

function pathProblem(path: string): { message: string; hint: string } | null {
  if (!path.startsWith('/')) return { message: `path '${path}' must be an absolute path inside the container`, hint: `e.g. /${path.replace(/^\.?\/*/, '')}` };
  const normal = posix.normalize(path).replace(/(.)\/$/, '$1');
  if (normal !== path) return { message: `path '${path}' is not in normal form`, hint: `write ${normal}` };
  if (path === '/') return { message: 'a volume cannot be mounted on /', hint: 'pick a folder, e.g. /data' };
  const reserved = RESERVED_PATHS.find((r) => pathsOverlap(path, r));
  if (reserved)
    return {
      message: `path ${path} ${path === reserved ? 'is' : reserved.startsWith(`${path}/`) ? 'contains' : 'is inside'} ${reserved}, which sandboxshift mounts itself`,
      hint: 'pick a folder elsewhere, e.g. /data',
    };
  return null;
}

/**
 * One environment's merged volumes against each other and its `mounts`. `entries` come with the
 * place each was written (the environment's own block or `defaults`).
 */
export function checkVolumeOverlaps(
  env: string,
  entries: ReadonlyArray<{ name: string; path: string; at: KeyPath }>,
  mountTargets: ReadonlyArray<{ target: string; at: KeyPath }>,
  ctx: CheckContext,
  reported: Set<string>,
): void {
  const report = (at: KeyPath, message: string, hint: string) => {
    const key = `${at.join('.')}|${message}`;
    if (reported.has(key)) return;
    reported.add(key);
    ctx.report(diagnosticAt(ctx.source, 'error', at, 'value', message, hint));
  };
  const valid = entries.filter((e) => pathProblem(e.path) === null && e.name !== 'workspace');
  valid.forEach((a, i) => {
    for (const b of valid.slice(i + 1)) {
      if (!pathsOverlap(a.path, b.path)) continue;
      const later = b.at[0] === 'environments' ? b : a;
      const other = later === b ? a : b;
      report(later.at, `environment '${env}': volume '${later.name}' (${later.path}) overlaps volume '${other.name}' (${other.path})`, 'give each volume its own folder, neither inside the other');
    }
    for (const m of mountTargets) {
      if (!pathsOverlap(a.path, m.target)) continue;
      report(a.at, `environment '${env}': volume '${a.name}' (${a.path}) overlaps the mount target ${m.target}`, 'mount the volume and the host path on separate folders, neither inside the other');
    }
  });
}
