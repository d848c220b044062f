// Policy violations as positioned diagnostics, FILE:LINE:COL like `validate`'s. The config's
// text is parsed again for positions only when there is something to point at, so a plan that
// keeps to the policy pays nothing for it.
import type { Diagnostic } from '../diagnostics.js';
import { isPlainObject } from '../config/describe.js';
import type { KeyPath } from '../config/key-path.js';
import { diagnosticAt, parseYaml } from '../config/yaml-source.js';
import type { PolicyLocation, PolicyViolation } from './check.js';

export function policyDiagnostics(violations: readonly PolicyViolation[], configText: string, file: string): Diagnostic[] {
  if (violations.length === 0) return [];
  const { source, data } = parseYaml(configText, file);
  return violations.map((v) => diagnosticAt(source, 'error', keyPathOf(v.at, data), 'value', `policy rule '${v.rule}': ${v.message}`, v.hint));
}

/** A setting where it is written: in the environment, else in `defaults`, else the environment's key. */
export function keyPathOf(at: PolicyLocation, data: unknown): KeyPath {
  if ('path' in at) return at.path;
  const root = isPlainObject(data) ? data : {};
  const own = isPlainObject(root.environments) ? root.environments[at.env] : undefined;
  if (written(own, at.setting)) return ['environments', at.env, ...at.setting];
  if (written(root.defaults, at.setting)) return ['defaults', ...at.setting];
  // Not written where the environment's value comes from in full: the nearest key that is.
  for (let n = at.setting.length - 1; n > 0; n--) {
    const head = at.setting.slice(0, n);
    if (written(own, head)) return ['environments', at.env, ...head];
    if (written(root.defaults, head)) return ['defaults', ...head];
  }
  return ['environments', at.env];
}

function written(value: unknown, path: KeyPath): boolean {
  let here = value;
  for (const key of path) {
    if (Array.isArray(here) && typeof key === 'number' && key < here.length) here = here[key];
    else if (isPlainObject(here) && typeof key === 'string' && key in here) here = here[key];
    else return false;
  }
  return true;
}
