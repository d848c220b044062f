// `policy set | show | clear` as library calls. Anyone who can reach the engine's API can run
// them (that access is root on the engine's host anyway); the record says who did and when.
import { DiagnosticsError, hasErrors } from '../diagnostics.js';
import { withEngine, type Engine } from '../engine/client.js';
import { readEnginePolicy, writeEnginePolicy } from '../engine/engine-policy.js';
import { policyChanges, type PolicyChange } from '../policy/diff.js';
import { parsePolicyFile } from '../policy/parse.js';
import type { StoredPolicy } from '../policy/types.js';

export interface PolicySetOutcome {
  /** What the new policy changes against the one in force (every rule when there was none). */
  changes: PolicyChange[];
  previous: StoredPolicy | null;
  /** The policy now in force. */
  current: StoredPolicy | null;
  /** False when the same document was already in force: nothing was written. */
  written: boolean;
}

/** Checks `file`; any error throws before the engine is touched. */
export async function setPolicy(engine: Engine, file: string): Promise<PolicySetOutcome> {
  const parsed = parsePolicyFile(file);
  if (!parsed.policy || !parsed.document || !parsed.hash || hasErrors(parsed.diagnostics)) throw new DiagnosticsError(parsed.diagnostics);
  const { document, hash } = parsed;
  return withEngine(async () => {
    const docker = await engine.docker();
    const previous = await readEnginePolicy(docker);
    const changes = policyChanges(previous ? JSON.parse(previous.document) : {}, JSON.parse(document));
    if (previous?.hash === hash) return { changes: [], previous, current: previous, written: false };
    await writeEnginePolicy(docker, { document, hash });
    return { changes, previous, current: await readEnginePolicy(docker), written: true };
  });
}

export async function clearPolicy(engine: Engine): Promise<{ previous: StoredPolicy | null }> {
  return withEngine(async () => {
    const docker = await engine.docker();
    const previous = await readEnginePolicy(docker);
    if (!previous) return { previous: null };
    await writeEnginePolicy(docker, null);
    return { previous };
  });
}

export async function showPolicy(engine: Engine): Promise<StoredPolicy | null> {
  return withEngine(async () => readEnginePolicy(await engine.docker()));
}
