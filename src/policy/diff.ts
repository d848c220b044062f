// What a new policy changes, rule by rule: each leaf of the document (an array counts as one
// value) added, removed or changed. Pure; `policy set` prints it before replacing the policy.

export interface PolicyChange {
  rule: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

export function policyChanges(before: unknown, after: unknown): PolicyChange[] {
  const a = leaves(before);
  const b = leaves(after);
  const out: PolicyChange[] = [];
  for (const rule of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(rule);
    const y = b.get(rule);
    if (x === undefined) out.push({ rule, kind: 'added', after: JSON.parse(y!) });
    else if (y === undefined) out.push({ rule, kind: 'removed', before: JSON.parse(x) });
    else if (x !== y) out.push({ rule, kind: 'changed', before: JSON.parse(x), after: JSON.parse(y) });
  }
  return out;
}

/** `+ images.allow: ["a/*"]`, `- runtime: "runsc"`, `~ environment.cpus: 2 → 4`. */
export function formatPolicyChange(c: PolicyChange): string {
  const v = (x: unknown) => JSON.stringify(x);
  if (c.kind === 'added') return `+ ${c.rule}: ${v(c.after)}`;
  if (c.kind === 'removed') return `- ${c.rule}: ${v(c.before)}`;
  return `~ ${c.rule}: ${v(c.before)} → ${v(c.after)}`;
}

function leaves(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix && value !== undefined) {
    out.set(prefix, JSON.stringify(value));
  }
  return out;
}
