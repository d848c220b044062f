import { createHash, createHmac } from 'node:crypto';

/** JSON with object keys sorted, so equal specs always hash equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

export function hashOf(value: unknown): string {
  return sha256(canonicalJson(value));
}

/**
 * Fingerprint of a secret value for change detection. Keyed per project/environment/name so
 * equal values in different places give different fingerprints and no table of common values
 * applies. It is never printed; it lives only in the container's spec label and saved plans.
 */
export function secretFingerprint(project: string, env: string, name: string, value: Buffer): string {
  const key = `sandboxshift-secret:${project}:${env}:${name}`;
  return createHmac('sha256', key).update(value).digest('hex').slice(0, 32);
}
