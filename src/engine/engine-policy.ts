// The engine's policy is stored in the engine, as records (see records.ts): never-started
// containers of the lock image, engine-wide (no project label), named ss._policy.GENERATION,
// whose labels hold the whole document (canonical JSON, at most 64 KiB), its sha256, who set
// it and when. Labels are written in one create, so a record is complete or absent.
// Replacing is atomic for readers: the new record (generation + 1) is created before the old
// ones are removed, and readers take the newest record whose document matches its hash. A run
// killed in between leaves two records, and the newest wins. Clearing creates a `cleared`
// record first, so a kill part-way leaves no policy, never an older one.
import { hostname, userInfo } from 'node:os';
import { sha256 } from '../model/hash.js';
import { policyFromDocument } from '../policy/parse.js';
import type { StoredPolicy } from '../policy/types.js';
import { statusCode, type Docker } from './client.js';
import { Labels } from './labels.js';
import { ensureLockImage, LOCK_IMAGE } from './lock.js';
import { findRecords, removeRecord, type ContainerLister } from './records.js';
import { VERSION } from '../version.js';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';

interface PolicyRecord {
  id: string;
  generation: number;
  state: 'set' | 'cleared';
  stored: StoredPolicy | null;
}

const ROLE = { [Labels.role]: 'engine-policy' };

export function policyRecordName(generation: number): string {
  return `ss._policy.${generation}`;
}

async function policyRecords(docker: ContainerLister): Promise<PolicyRecord[]> {
  const found = await findRecords(docker, ROLE);
  const out: PolicyRecord[] = [];
  for (const r of found) {
    const l = r.labels;
    const generation = Number(l[Labels.enginePolicyGeneration]);
    // A record with our role but no project label, a whole generation, and (when set) a document
    // that matches its hash; anything else is not one we wrote, and is ignored.
    if (l[Labels.project] !== undefined || !Number.isSafeInteger(generation) || generation < 1) continue;
    const state = l[Labels.enginePolicyState];
    if (state === 'cleared') {
      out.push({ id: r.id, generation, state, stored: null });
      continue;
    }
    const document = l[Labels.enginePolicyDocument];
    const hash = l[Labels.enginePolicyHash];
    if (state !== 'set' || document === undefined || hash === undefined || sha256(document) !== hash) continue;
    let data: unknown;
    try {
      data = JSON.parse(document);
    } catch {
      continue;
    }
    out.push({
      id: r.id,
      generation,
      state,
      stored: { policy: policyFromDocument(data), document, hash, setBy: l[Labels.enginePolicySetBy] ?? 'unknown', setAt: l[Labels.enginePolicySetAt] ?? 'unknown', generation },
    });
  }
  return out.sort((a, b) => b.generation - a.generation);
}

/** The engine's policy now: the newest complete record's, or null (none set, or cleared). */
export async function readEnginePolicy(docker: ContainerLister): Promise<StoredPolicy | null> {
  return (await policyRecords(docker))[0]?.stored ?? null;
}

/** Who is setting the policy, as recorded: the user (the sudo user behind root) at this host. */
export function policyAuthor(): string {
  let user = process.env.SUDO_USER;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = `uid ${process.getuid?.() ?? 'unknown'}`;
    }
  }
  return `${user}@${hostname()}`;
}

/** Sets (`document`) or clears (null) the policy; returns the policy it replaced. */
export async function writeEnginePolicy(docker: Docker, change: { document: string; hash: string } | null, setBy = policyAuthor()): Promise<StoredPolicy | null> {
  await ensureLockImage(docker);
  const records = await policyRecords(docker);
  const previous = records[0]?.stored ?? null;
  // Removed records of ours below a newer one may linger from a killed run: count them all.
  const generation = Math.max(0, ...records.map((r) => r.generation), ...(await allGenerations(docker))) + 1;
  await pauseForTest('policy-set-before-create');
  const labels: Record<string, string> = {
    ...ROLE,
    [Labels.enginePolicyGeneration]: String(generation),
    [Labels.enginePolicyState]: change ? 'set' : 'cleared',
    [Labels.enginePolicySetBy]: setBy,
    [Labels.enginePolicySetAt]: new Date().toISOString(),
    [Labels.version]: VERSION,
    ...(change ? { [Labels.enginePolicyDocument]: change.document, [Labels.enginePolicyHash]: change.hash } : {}),
  };
  let id: string;
  try {
    id = (await docker.createContainer({ name: policyRecordName(generation), Image: LOCK_IMAGE, Cmd: ['/lock'], Labels: labels, HostConfig: { NetworkMode: 'none' } })).id;
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
    throw new DiagnosticsError([
      errorDiag(`another \`policy ${change ? 'set' : 'clear'}\` changed the engine's policy at the same time (container ${policyRecordName(generation)} exists)`, {
        hint: 'see what is in force now with `sandboxshift policy show`, then run the command again',
      }),
    ]);
  }
  await pauseForTest('policy-set-created');
  for (const r of records) await removeRecord(docker, r.id);
  // A cleared record has done its work once nothing older is left.
  if (!change) await removeRecord(docker, id);
  return previous;
}

/** Generations of every container named like a policy record, ours or not: a new one must not collide. */
async function allGenerations(docker: Docker): Promise<number[]> {
  const found = await docker.listContainers({ all: true, filters: { name: ['^/ss\\._policy\\.'] } });
  return found.flatMap((c) => (c.Names ?? []).map((n) => Number(/^\/ss\._policy\.([0-9]+)$/.exec(n)?.[1] ?? 0)));
}

/**
 * For the kill tests (test/e2e/policy.test.ts): with SANDBOXSHIFT_TEST_PAUSE set to this point,
 * `policy set` stops here for a minute, so the test can SIGKILL it exactly there.
 */
async function pauseForTest(point: string): Promise<void> {
  if (process.env.SANDBOXSHIFT_TEST_PAUSE === point) await new Promise((r) => setTimeout(r, 60_000));
}
