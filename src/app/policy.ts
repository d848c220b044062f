// The engine's policy in the pipeline: read it, check a project's config against it (plan,
// validate, apply, watch), and, for engine-wide ceilings, check again under an engine-wide lock
// held around the check and the creates, so two projects applying at once cannot together
// exceed a ceiling.
import { existsSync } from 'node:fs';
import { relative, isAbsolute } from 'node:path';
import { DiagnosticsError, errorDiag, type Diagnostic } from '../diagnostics.js';
import type { Engine } from '../engine/client.js';
import { withEngine } from '../engine/client.js';
import { readEnginePolicy } from '../engine/engine-policy.js';
import { engineUsageByProject, usageOfOthers, type ProjectUse } from '../engine/engine-usage.js';
import { readerLister } from '../engine/records.js';
import { engineLockWaitMs, releaseLock, waitForLock, type HeldLock } from '../engine/lock.js';
import { checkPolicy } from '../policy/check.js';
import { policyDiagnostics } from '../policy/diagnostics.js';
import { policySubject } from '../policy/subject.js';
import { hasEngineCeilings, type StoredPolicy } from '../policy/types.js';
import type { Plan } from '../plan/types.js';
import type { Loaded } from './pipeline.js';

/** The pseudo project of the engine-wide lock: `ss._engine.lock` (no project name starts with `_`). */
export const ENGINE_LOCK_SCOPE = '_engine';

export async function readPolicy(engine: Engine): Promise<StoredPolicy | null> {
  // The light reader: importing dockerode would cost a plain plan about 0.1 s.
  return withEngine(() => readEnginePolicy(readerLister(engine.reader)));
}

/** The policy, and every project's use when the policy has engine-wide ceilings (read right after it). */
export interface PolicyFacts {
  stored: StoredPolicy | null;
  usage: ReadonlyMap<string, ProjectUse> | null;
}

export async function readPolicyFacts(engine: Engine): Promise<PolicyFacts> {
  const stored = await readPolicy(engine);
  const usage = stored && hasEngineCeilings(stored.policy) ? await withEngine(() => engineUsageByProject(readerLister(engine.reader))) : null;
  return { stored, usage };
}

/** Every violation of the policy by the loaded config, positioned in its file; [] without a policy. */
export async function policyViolations(engine: Engine, loaded: Loaded, facts: PolicyFacts | StoredPolicy | null): Promise<Diagnostic[]> {
  const given = facts && 'stored' in facts ? facts : { stored: facts, usage: undefined };
  const { stored } = given;
  if (!stored) return [];
  const project = loaded.desired.project;
  let others = null;
  let own = null;
  if (hasEngineCeilings(stored.policy)) {
    const usage = given.usage ?? (await withEngine(() => engineUsageByProject(readerLister(engine.reader))));
    others = usageOfOthers(usage, project);
    own = usage.get(project) ?? { environments: 0, cpus: 0, memoryBytes: 0 };
  }
  const violations = checkPolicy(stored.policy, policySubject(loaded.config, loaded.desired), others, own);
  return policyDiagnostics(violations, loaded.config.source, shownPath(loaded.config.file));
}

/** The config's path as diagnostics show it: relative to the working folder when inside it. */
function shownPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/**
 * Runs `work` (the apply of `plan`) with the policy checked afresh just before it. With
 * engine-wide ceilings the check and the work run under the engine-wide lock, waited for (another
 * project's apply holds it only while it applies); a violation then refuses the whole apply,
 * before anything is created.
 */
export async function withPolicyCheck<T>(engine: Engine, loaded: Loaded, plan: Plan, work: () => Promise<T>): Promise<T> {
  if (plan.mode === 'destroy') return work();
  const first = await readPolicy(engine);
  if (!first) return work();
  if (!hasEngineCeilings(first.policy)) {
    refuse(await policyViolations(engine, loaded, first));
    return work();
  }
  const lock = await acquireEngineLock(engine);
  try {
    // Read again under the lock: the policy may have changed while it was waited for.
    refuse(await policyViolations(engine, loaded, await readPolicy(engine)));
    await pauseForTest('policy-quota-checked');
    return await work();
  } finally {
    await lock.release();
  }
}

function refuse(diagnostics: Diagnostic[]): void {
  if (diagnostics.length) throw new DiagnosticsError([...diagnostics, errorDiag("nothing was applied: the config breaks the engine's policy")]);
}

/** The engine-wide lock, waited for up to SANDBOXSHIFT_ENGINE_LOCK_WAIT seconds (default 600). */
async function acquireEngineLock(engine: Engine): Promise<HeldLock> {
  const waitMs = engineLockWaitMs();
  return waitForLock(await engine.docker(), ENGINE_LOCK_SCOPE, 'apply (engine-wide policy check)', waitMs, (holder) => {
    const who = holder ? `by ${holder.holder} pid ${holder.pid} (${holder.command}) since ${holder.since}, lock ID ${holder.id}` : 'by a run that just gave it back';
    return new DiagnosticsError([
      errorDiag(`the engine-wide policy lock ss.${ENGINE_LOCK_SCOPE}.lock is still held after ${waitMs / 1000}s, ${who}; nothing was applied`, {
        hint: `another project is applying: try again later. If that run is gone, remove the lock with \`sandboxshift policy unlock ${holder?.id ?? 'ID'}\``,
      }),
    ]);
  });
}

/**
 * For the race test (test/e2e/policy.test.ts): with SANDBOXSHIFT_TEST_PAUSE set to this point,
 * apply stops after its check under the engine-wide lock until the file
 * SANDBOXSHIFT_TEST_RELEASE_FILE exists (at most a minute), so a second apply provably waits.
 */
async function pauseForTest(point: string): Promise<void> {
  if (process.env.SANDBOXSHIFT_TEST_PAUSE !== point) return;
  const release = process.env.SANDBOXSHIFT_TEST_RELEASE_FILE;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !(release && existsSync(release))) await new Promise((r) => setTimeout(r, 100));
}

/** Removes the engine-wide lock if it is still the one with this ID (a run that is gone left it). */
export async function unlockEngine(engine: Engine, id: string): Promise<'released' | 'not-held' | 'other-holder'> {
  return releaseLock(await engine.docker(), ENGINE_LOCK_SCOPE, id);
}
