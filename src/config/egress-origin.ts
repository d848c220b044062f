// Where each rule of an environment's allow list was written: under `defaults.egress` or under
// the environment's own `egress`. The merged Config has lost that, so it is read again from the
// file's text (only `sandboxshift egress` asks, for one environment).

import type { Config } from './types.js';
import { parseYaml } from './yaml-source.js';

export type EgressOrigin = 'defaults' | 'environment';

export interface EgressRuleOrigin {
  rule: string;
  origin: EgressOrigin;
  /** Dotted key path of the entry in the file, e.g. `defaults.egress.allow[0]`. */
  path: string;
}

/** The environment's effective allow list, each entry with where it came from; [] without one. */
export function egressRuleOrigins(config: Config, env: string): EgressRuleOrigin[] {
  const environment = config.environments[env];
  if (!environment || environment.egress.mode !== 'allow') return [];
  const { data } = parseYaml(config.source, config.file);
  const root = isPlainObject(data) ? data : {};
  const environments = isPlainObject(root.environments) ? root.environments : {};
  const own = allowList(environments[env], `environments.${env}`);
  const defaults = allowList(root.defaults, 'defaults');
  return environment.egress.allow.map((rule) => {
    const from = own.list.includes(rule) ? own : defaults.list.includes(rule) ? defaults : own;
    const index = from.list.indexOf(rule);
    return { rule, origin: from === own ? 'environment' : 'defaults', path: `${from.prefix}.egress.allow${index >= 0 ? `[${index}]` : ''}` };
  });
}

function allowList(settings: unknown, prefix: string): { list: string[]; prefix: string } {
  const egress = isPlainObject(settings) ? settings.egress : undefined;
  const allow = isPlainObject(egress) ? egress.allow : undefined;
  return { list: Array.isArray(allow) ? allow.filter((a): a is string => typeof a === 'string') : [], prefix };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
