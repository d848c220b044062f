// Secret names the schema cannot check on its own: inside the sandbox every secret is also an
// environment variable (the loader in engine/exec-loader.ts, SECRET_LOADER, upper-cases the name
// and turns every character other than A-Z, 0-9 and _ into _), so `a.b`, `a-b` and `a_b` would
// all be A_B, and one would silently replace the others. Run on unvalidated data, on each
// environment's secrets merged over `defaults` key by key, as the environment gets them.

import { isPlainObject } from './describe.js';
import type { KeyPath } from './key-path.js';
import type { CheckContext } from './semantic-checks.js';
import { diagnosticAt } from './yaml-source.js';

/** The schema's secret name pattern; names that fail it are reported by the schema, not here. */
const SECRET_NAME = /^[a-z0-9_][a-z0-9_.-]*$/;

/** The variable a secret is exported as inside the sandbox, or null when it is not exported (a name starting with a digit). */
export function secretVariable(name: string): string | null {
  const variable = name.replace(/[a-z]/g, (c) => c.toUpperCase()).replace(/[^A-Z0-9_]/g, '_');
  return /^[0-9]/.test(variable) ? null : variable;
}

interface Declared {
  name: string;
  at: KeyPath;
  fromDefaults: boolean;
}

export function checkSecretVariables(root: Record<string, unknown>, environments: readonly string[], ctx: CheckContext): void {
  const defaults = isPlainObject(root.defaults) && isPlainObject(root.defaults.secrets) ? root.defaults.secrets : {};
  const fromDefaults = declared(defaults, ['defaults', 'secrets'], true);
  for (const group of collisions(fromDefaults)) report(group, null, ctx);
  for (const env of environments) {
    const settings = isPlainObject(root.environments) ? root.environments[env] : undefined;
    const own = isPlainObject(settings) && isPlainObject(settings.secrets) ? settings.secrets : {};
    const merged = [...fromDefaults.filter((d) => !Object.hasOwn(own, d.name)), ...declared(own, ['environments', env, 'secrets'], false)];
    // A collision within defaults alone is reported once, above.
    for (const group of collisions(merged)) if (group.members.some((d) => !d.fromDefaults)) report(group, env, ctx);
    checkEnvClashes(root, settings, env, merged, ctx);
  }
}

/**
 * A plain `env:` variable with the name a secret is exported as: the secret replaces its value
 * inside the sandbox without a word (the entrypoint and exec export secrets last).
 */
function checkEnvClashes(root: Record<string, unknown>, settings: unknown, env: string, secrets: readonly Declared[], ctx: CheckContext): void {
  const defaultsEnv = isPlainObject(root.defaults) && isPlainObject(root.defaults.env) ? root.defaults.env : {};
  const ownEnv = isPlainObject(settings) && isPlainObject(settings.env) ? settings.env : {};
  for (const secret of secrets) {
    const variable = secretVariable(secret.name);
    if (variable === null) continue;
    const own = Object.hasOwn(ownEnv, variable);
    if (!own && !Object.hasOwn(defaultsEnv, variable)) continue;
    const envAt: KeyPath = own ? ['environments', env, 'env', variable] : ['defaults', 'env', variable];
    ctx.report(
      diagnosticAt(
        ctx.source,
        'error',
        envAt,
        'key',
        `env ${variable} and secret '${secret.name}' would both be the variable ${variable} in environment '${env}': the secret would silently replace the value`,
        `rename the variable or the secret (a secret NAME is also the variable NAME upper-cased), or drop ${variable} from env if the secret is meant to set it`,
      ),
    );
  }
}

function declared(secrets: Record<string, unknown>, at: KeyPath, fromDefaults: boolean): Declared[] {
  return Object.keys(secrets)
    .filter((name) => SECRET_NAME.test(name))
    .map((name) => ({ name, at: [...at, name], fromDefaults }));
}

/** Groups of two or more secrets exported as one variable, each in the order declared. */
function collisions(secrets: readonly Declared[]): Array<{ variable: string; members: Declared[] }> {
  const byVariable = new Map<string, Declared[]>();
  for (const secret of secrets) {
    const variable = secretVariable(secret.name);
    if (variable === null) continue;
    byVariable.set(variable, [...(byVariable.get(variable) ?? []), secret]);
  }
  return [...byVariable].filter(([, members]) => members.length > 1).map(([variable, members]) => ({ variable, members }));
}

function report({ variable, members }: { variable: string; members: Declared[] }, env: string | null, ctx: CheckContext): void {
  const names = members.map((m) => `'${m.name}'`);
  const listed = `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  const where = env === null ? '' : ` in environment '${env}'`;
  // At the first name that collides with an earlier one, in the environment's own block when it has one there.
  const at = (env === null ? members[1] : members.slice(1).find((m) => !m.fromDefaults)) ?? members[1];
  ctx.report(
    diagnosticAt(
      ctx.source,
      'error',
      at?.at ?? [],
      'key',
      `secrets ${listed} would ${members.length > 2 ? 'all ' : 'both '}be the variable ${variable}${where}: one would silently replace the other${members.length > 2 ? 's' : ''}`,
      'rename all but one: inside the sandbox a secret NAME is also the variable NAME upper-cased, with every character other than A-Z, 0-9 and _ turned into _',
    ),
  );
}
