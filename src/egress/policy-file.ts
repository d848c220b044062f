// The policy file the proxy container reads: `{"allow": ["pypi.org", "*.github.com"]}`. Written by
// SandboxShift; replace it atomically (write elsewhere, rename over) so a reload never reads half.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errorMessage } from './log-lines.js';
import { parsePolicy, type EgressPolicy, type PolicyProblem } from './policy.js';

export type PolicyFileLoad = { ok: true; policy: EgressPolicy; problems: PolicyProblem[]; allow: string[]; hash: string } | { ok: false; error: string };

/**
 * The policy's identity, `sha256:` of the canonical JSON of `{"allow": [...]}` as the file lists
 * it: the same value as policyHash() in src/app/egress.ts (a unit test holds them equal), so the
 * engine side can tell from a log line or the stats file which list the proxy enforces. One key
 * holding strings only: JSON.stringify is already canonical.
 */
export function policyHash(allow: readonly string[]): string {
  return `sha256:${createHash('sha256').update(JSON.stringify({ allow })).digest('hex')}`;
}

export function loadPolicyFile(path: string): PolicyFileLoad {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    return { ok: false, error: `cannot read policy file ${path}: ${errorMessage(error)}` };
  }
  const allow = typeof data === 'object' && data !== null ? (data as { allow?: unknown }).allow : undefined;
  if (!Array.isArray(allow) || !allow.every((entry): entry is string => typeof entry === 'string')) {
    return { ok: false, error: `policy file ${path} must hold {"allow": [strings]}` };
  }
  return { ok: true, ...parsePolicy(allow), allow, hash: policyHash(allow) };
}
