// An egress proxy's allow list changed in place (no recreate, so connections it still allows
// keep going), recorded on the engine (see records.ts): labels cannot change, so what the proxy
// enforces after a reload is an `egress-policy` record naming the proxy's container ID. A record
// naming another proxy is stale: ignored, and removed by the next reload or proxy removal.
//
// Order, so that a kill between any two engine calls never leaves records that claim more than
// the proxy may enforce: pending record, policy file + SIGHUP + the proxy's acknowledgement, the
// new enforced record, the other enforced records removed, the pending record removed last.
// While a pending record exists the enforced list is unknown and the next plan reloads again.
import type Docker from 'dockerode';
import { policyHash } from '../model/egress.js';
import { egressPolicyRecordName } from '../model/names.js';
import type { ObservedProxy, RecordedPolicy } from '../model/observed.js';
import type { Docker as Engine } from './client.js';
import { Labels } from './labels.js';
import { demuxedLogs } from './log-stream.js';
import { createRecord, findRecords, removeRecord, unlessMissing } from './records.js';
import { pauseForTest } from './test-pause.js';

const recordLabels = (project: string, env: string) => ({ [Labels.project]: project, [Labels.environment]: env, [Labels.role]: 'egress-policy' });

/** The proxies with what their records say they enforce; from the list observe() already made. */
export function withRecordedPolicies(proxies: ReadonlyMap<string, ObservedProxy>, containers: readonly Docker.ContainerInfo[]): Map<string, ObservedProxy> {
  const out = new Map(proxies);
  for (const [env, proxy] of proxies) {
    const records = containers.filter((c) => c.Labels?.[Labels.role] === 'egress-policy' && c.Labels?.[Labels.environment] === env && c.Labels?.[Labels.egressProxyId] === proxy.id);
    const recorded = recordedPolicy(records.map((r) => r.Labels ?? {}));
    if (recorded) out.set(env, { ...proxy, recorded });
  }
  return out;
}

/** What one proxy's records (already matched to its ID) say; null without records. */
export function recordedPolicy(records: ReadonlyArray<Record<string, string>>): RecordedPolicy | null {
  if (records.length === 0) return null;
  if (records.some((r) => r[Labels.egressPolicyState] !== 'enforced')) {
    return { unknown: 'a reload of its allow list began and did not finish (an earlier apply was interrupted)' };
  }
  const lists = new Set(records.map((r) => r[Labels.egressAllow]));
  const allow = lists.size === 1 ? parseAllowLabel(records[0]?.[Labels.egressAllow]) : null;
  return allow ? { allow } : { unknown: 'its policy records disagree' };
}

export function parseAllowLabel(label: string | undefined): string[] | null {
  if (label === undefined) return null;
  try {
    const value: unknown = JSON.parse(label);
    return Array.isArray(value) && value.every((v): v is string => typeof v === 'string') ? value : null;
  } catch {
    return null; // an unreadable list is no list: the caller says so
  }
}

export interface ReloadTarget {
  project: string;
  environment: string;
  proxyName: string;
  allow: readonly string[];
  /** The policy file, as the proxy reads it (the same archive createProxy copies in). */
  archive: Buffer;
}

/** Reloads a running proxy's allow list in place and records it; throws naming the proxy when it cannot. */
export async function reloadProxyPolicy(docker: Engine, t: ReloadTarget, ackTimeoutMs = 15_000): Promise<void> {
  const info = await unlessMissing(docker.getContainer(t.proxyName).inspect());
  const labels = info?.Config.Labels ?? {};
  if (!info || labels[Labels.project] !== t.project || labels[Labels.role] !== 'egress') {
    throw new Error(`egress proxy ${t.proxyName} is not there (or not ours): run sandboxshift plan again, it is made again`);
  }
  if (!info.State.Running) throw new Error(`egress proxy ${t.proxyName} is ${info.State.Status}, so its policy cannot be reloaded: run sandboxshift apply again, it is made again`);
  const id = info.Id;
  const hash = policyHash(t.allow);
  const hex = hash.slice('sha256:'.length);
  const base = recordLabels(t.project, t.environment);
  const list = JSON.stringify(t.allow);
  for (const r of await findRecords(docker, base)) if (r.labels[Labels.egressProxyId] !== id) await removeRecord(docker, r.id);
  await createRecord(
    docker,
    egressPolicyRecordName(t.project, t.environment, 'pending', hex),
    { ...base, [Labels.egressProxyId]: id, [Labels.egressPolicyState]: 'pending', [Labels.egressAllow]: list },
    'an egress policy record',
  );
  await pauseForTest('egress-reload-pending');
  const container = docker.getContainer(id);
  const before = await policyLines(docker, id);
  await container.putArchive(t.archive, { path: '/' });
  await container.kill({ signal: 'HUP' });
  await waitForPolicyAck(docker, id, t.proxyName, before.length, t.allow, hash, ackTimeoutMs);
  await createRecord(
    docker,
    egressPolicyRecordName(t.project, t.environment, 'enforced', hex),
    { ...base, [Labels.egressProxyId]: id, [Labels.egressPolicyState]: 'enforced', [Labels.egressAllow]: list },
    'an egress policy record',
  );
  await pauseForTest('egress-reload-recorded');
  const records = await findRecords(docker, base);
  const current = (r: { labels: Record<string, string> }) => r.labels[Labels.egressPolicyState] === 'enforced' && r.labels[Labels.egressAllow] === list;
  for (const r of records) if (!current(r) && r.labels[Labels.egressPolicyState] !== 'pending') await removeRecord(docker, r.id);
  for (const r of records) if (r.labels[Labels.egressPolicyState] === 'pending') await removeRecord(docker, r.id);
}

/** Every policy record of an environment: its proxy is gone or made again, so none can be about it. */
export async function removePolicyRecords(docker: Engine, project: string, env: string): Promise<void> {
  for (const r of await findRecords(docker, recordLabels(project, env))) await removeRecord(docker, r.id);
}

type PolicyLine = Record<string, unknown>;

async function policyLines(docker: Engine, id: string): Promise<PolicyLine[]> {
  const text = await demuxedLogs(docker, await docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false }));
  const out: PolicyLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"event":"policy')) continue;
    try {
      const value = JSON.parse(line) as PolicyLine;
      if (value.event === 'policy' || value.event === 'policy-error') out.push(value);
    } catch {
      continue; // not a whole line: not an acknowledgement
    }
  }
  return out;
}

/** Whether a `policy` line the proxy logged after our write acknowledges `allow`. */
export function acknowledges(line: PolicyLine, allow: readonly string[], hash: string): boolean {
  if (typeof line.hash === 'string') return line.hash === hash;
  // Fallback for a proxy that logs no hash (before contract item 2): a reload line with the
  // same rules. Remove once every proxy image logs the hash.
  const rules = line.rules;
  return (line.trigger === 'SIGHUP' || line.trigger === 'file-change') && Array.isArray(rules) && rules.length === allow.length && rules.every((r, i) => r === allow[i]);
}

async function waitForPolicyAck(docker: Engine, id: string, name: string, seen: number, allow: readonly string[], hash: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = (await policyLines(docker, id)).slice(seen);
    if (lines.some((l) => l.event === 'policy' && acknowledges(l, allow, hash))) return;
    const refused = lines.find((l) => l.event === 'policy-error');
    if (refused) throw new Error(`egress proxy ${name} could not load the new allow list (${String(refused.error)}); it now denies everything: run sandboxshift apply again`);
    if (Date.now() > deadline) {
      throw new Error(
        `egress proxy ${name} did not acknowledge the new allow list (${hash}) within ${timeoutMs / 1000} s; it may still enforce the old one: see docker logs ${name}, then run sandboxshift apply again`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
