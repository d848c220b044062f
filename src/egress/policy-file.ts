// The policy file the proxy container reads: `{"allow": ["pypi.org", "*.github.com"]}`. Written by
// SandboxShift; replace it atomically (write elsewhere, rename over) so a reload never reads half.

import { readFileSync } from 'node:fs';
import { errorMessage } from './log-lines.js';
import { parsePolicy, type EgressPolicy, type PolicyProblem } from './policy.js';

export type PolicyFileLoad = { ok: true; policy: EgressPolicy; problems: PolicyProblem[] } | { ok: false; error: string };

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
  return { ok: true, ...parsePolicy(allow) };
}
