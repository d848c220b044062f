// Security-relevant effects of a change, so every renderer can show them first and highlighted:
// weaker isolation, more privilege, new ways in or out, secrets handed over, protection dropped.
// The JSON plan carries them in `security`; renderers add nothing of their own.
import type { EnvironmentSpec } from '../model/desired.js';

const NETWORK_RANK: Record<EnvironmentSpec['network'], number> = { none: 0, egress: 1, host: 2 };

export interface SecuritySide {
  spec: EnvironmentSpec;
  protect: boolean;
}

/** Notes for a container that goes from `before` (null: a new one) to `after`. */
export function securityNotes(before: SecuritySide | null, after: SecuritySide): string[] {
  const notes: string[] = [];
  const b = before?.spec ?? null;
  const a = after.spec;
  if (b && b.runtime === 'runsc' && a.runtime !== 'runsc') notes.push(`runtime weakened: runsc → ${a.runtime} (gVisor removed)`);
  if (a.privileged && !b?.privileged) notes.push(b ? 'privileged mode added' : 'runs privileged');
  if (!b && a.network === 'host') notes.push('uses the host network');
  else if (b && NETWORK_RANK[a.network] > NETWORK_RANK[b.network]) notes.push(`network widened: ${b.network} → ${a.network}`);
  if (isRoot(a.user) && !(b && isRoot(b.user))) notes.push(`runs as root (user ${a.user})`);
  const mounts = new Set((b?.mounts ?? []).map((m) => `${m.source}:${m.target}`));
  for (const m of a.mounts) if (!mounts.has(`${m.source}:${m.target}`)) notes.push(`host path mounted: ${m.source} → ${m.target}${m.readOnly ? ' (read-only)' : ''}`);
  if (a.hostWorkspace && a.hostWorkspace !== b?.hostWorkspace) notes.push(`host path mounted: ${a.hostWorkspace} → /workspace`);
  // A new environment's secrets are in its create; on an existing one, new secrets stand out.
  const added = b
    ? Object.keys(a.secrets)
        .filter((s) => !(s in b.secrets))
        .sort()
    : [];
  if (added.length) notes.push(`secret${added.length === 1 ? '' : 's'} added: ${added.join(', ')}`);
  if (before?.protect && !after.protect) notes.push('protect removed');
  return notes;
}

function isRoot(user: string): boolean {
  return /^0(:|$)/.test(user);
}
