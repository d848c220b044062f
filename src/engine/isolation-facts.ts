// Isolation facts and protect records, parsed from what the engine already sent: the container
// list call on every plan, an inspect on a full refresh.
import type Docker from 'dockerode';
import type { InspectedSecurity, ListedIsolation, ObservedProtectRecord } from '../model/isolation.js';
import { Labels } from './labels.js';

export function listedIsolation(c: Docker.ContainerInfo): ListedIsolation {
  return {
    networkMode: c.HostConfig?.NetworkMode ?? '',
    networks: Object.keys(c.NetworkSettings?.Networks ?? {}).sort(),
    mounts: (c.Mounts ?? []).map((m) => ({
      type: m.Type,
      name: m.Name ?? null,
      source: m.Source,
      target: m.Destination,
      readOnly: !m.RW,
    })),
    addresses: Object.fromEntries(
      Object.entries(c.NetworkSettings?.Networks ?? {}).map(([name, n]) => {
        // dockerode types IPAMConfig as any: `{IPv4Address}` when fixed, null when not.
        const fixed = (n.IPAMConfig as { IPv4Address?: string } | null | undefined)?.IPv4Address;
        return [name, { address: n.IPAddress ?? '', fixed: fixed || null }];
      }),
    ),
  };
}

export function inspectedSecurity(info: Docker.ContainerInspectInfo): InspectedSecurity {
  const hc = info.HostConfig;
  return {
    user: info.Config.User ?? '',
    privileged: hc.Privileged === true,
    // dockerode types these as any.
    capAdd: (hc.CapAdd as string[] | null | undefined) ?? [],
    capDrop: (hc.CapDrop as string[] | null | undefined) ?? [],
    securityOpt: (hc.SecurityOpt as string[] | null | undefined) ?? [],
    runtime: hc.Runtime ?? 'runc',
    pidsLimit: hc.PidsLimit ?? null,
  };
}

/** Protect records of the project, by environment (in the same list as its containers). */
export function protectRecords(containers: readonly Docker.ContainerInfo[]): Map<string, ObservedProtectRecord[]> {
  const out = new Map<string, ObservedProtectRecord[]>();
  for (const c of containers) {
    const l = c.Labels ?? {};
    const env = l[Labels.environment];
    if (l[Labels.role] !== 'protect' || !env) continue;
    const record = { id: c.Id, name: (c.Names?.[0] ?? '').replace(/^\//, ''), environment: env, protect: l[Labels.protect] === 'true' };
    out.set(
      env,
      [...(out.get(env) ?? []), record].sort((a, b) => a.name.localeCompare(b.name)),
    );
  }
  return out;
}
