// The engine's create request for an environment: the hardening defaults live here.
import type Docker from 'dockerode';
import type { DesiredEnvironment } from '../model/desired.js';
import { canonicalJson } from '../model/hash.js';
import { PROXY_PORT, WORKSPACE_PATH } from '../model/names.js';
import { IPV6_OFF_SYSCTLS, needsIpv6Off, sandboxAddress, type EgressPlan } from '../model/egress.js';
import { VERSION } from '../version.js';
import { Labels } from './labels.js';

export function environmentLabels(project: string, d: DesiredEnvironment): Record<string, string> {
  return {
    [Labels.project]: project,
    [Labels.environment]: d.name,
    [Labels.role]: 'environment',
    [Labels.configHash]: d.configHash,
    [Labels.spec]: canonicalJson(d.spec),
    [Labels.resources]: canonicalJson(d.resources),
    [Labels.protect]: String(d.protect),
    [Labels.version]: VERSION,
  };
}

export function workspaceLabels(project: string, d: DesiredEnvironment, movedFrom: string | null = null): Record<string, string> {
  return {
    ...(movedFrom ? { [Labels.movedFrom]: movedFrom } : {}),
    [Labels.project]: project,
    [Labels.environment]: d.name,
    [Labels.role]: 'workspace',
    [Labels.protect]: String(d.protect),
    [Labels.version]: VERSION,
  };
}

/** Labels of an extra named volume (`volumes:`): like the workspace's, with its own role and name. */
export function dataVolumeLabels(project: string, d: DesiredEnvironment, volume: string): Record<string, string> {
  return {
    [Labels.project]: project,
    [Labels.environment]: d.name,
    [Labels.role]: 'volume',
    [Labels.volume]: volume,
    [Labels.protect]: String(d.protect),
    [Labels.version]: VERSION,
  };
}

/** The engine's mounts for an environment: /workspace (volume or host folder), its named volumes, its bind mounts. */
export function environmentMounts(project: string, d: DesiredEnvironment, movedFrom: string | null = null): Docker.MountSettings[] {
  const local = { Name: 'local', Options: {} };
  return [
    // The engine creates a named volume with these labels on first use, in the same call.
    d.spec.hostWorkspace
      ? { Type: 'bind', Source: d.spec.hostWorkspace, Target: WORKSPACE_PATH, ReadOnly: false }
      : { Type: 'volume', Source: d.volumeName, Target: WORKSPACE_PATH, VolumeOptions: { NoCopy: false, Labels: workspaceLabels(project, d, movedFrom), DriverConfig: local } },
    ...d.volumes.map((v) => ({ Type: 'volume' as const, Source: v.volumeName, Target: v.path, VolumeOptions: { NoCopy: false, Labels: dataVolumeLabels(project, d, v.name), DriverConfig: local } })),
    ...d.spec.mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
  ];
}

/**
 * Under gVisor the pids cgroup counts the sandbox kernel's own host threads (about 60 when
 * idle, more as processes inside block; seen with runsc 20221219), not the processes inside; without headroom a small limit
 * crashes the sandbox or hangs `docker exec`. The environment's own processes are bounded by
 * RLIMIT_NPROC instead, which gVisor enforces inside the sandbox.
 */
export const RUNSC_PIDS_HEADROOM = 512;

export function hostPidsLimit(pids: number, runtime: string): number {
  return runtime === 'runsc' ? pids + RUNSC_PIDS_HEADROOM : pids;
}

/** Proxy variables, by IP: gVisor cannot use Docker's embedded DNS, and the sandbox has none. */
export function proxyEnv(e: EgressPlan): string[] {
  const url = `http://${e.proxyAddress}:${PROXY_PORT}`;
  return [`HTTP_PROXY=${url}`, `HTTPS_PROXY=${url}`, `http_proxy=${url}`, `https_proxy=${url}`, 'NO_PROXY=localhost,127.0.0.1', 'no_proxy=localhost,127.0.0.1'];
}

/** `movedFrom` labels a workspace volume this call makes for a renamed environment (see Labels.movedFrom). */
export function containerCreateOptions(project: string, d: DesiredEnvironment, egress: EgressPlan | null = null, movedFrom: string | null = null): Docker.ContainerCreateOptions {
  const { spec, resources } = d;
  const ipv6Off = spec.network === 'egress' && !!egress && needsIpv6Off(egress.gatewayIsolation);
  return {
    name: d.containerName,
    Image: spec.image,
    ...(spec.command ? { Cmd: spec.command } : {}),
    Env: [
      ...Object.entries(spec.env)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`),
      ...(egress ? proxyEnv(egress) : []),
    ],
    User: spec.user,
    WorkingDir: WORKSPACE_PATH,
    Hostname: d.name,
    Labels: { ...environmentLabels(project, d), ...(ipv6Off ? { [Labels.ipv6]: 'off' } : {}) },
    HostConfig: {
      Mounts: environmentMounts(project, d, movedFrom),
      // Podman/CNI: no IPv6, so no link-local path to the host bridge (Docker turns it off itself).
      ...(ipv6Off ? { Sysctls: { ...IPV6_OFF_SYSCTLS } } : {}),
      // none: no network at all; egress: its own internal network, out only via its proxy.
      NetworkMode: spec.network === 'egress' ? (egress?.network ?? 'none') : spec.network,
      Runtime: spec.runtime,
      Privileged: spec.privileged,
      CapDrop: spec.privileged ? [] : ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      // tini as PID 1 forwards SIGTERM, so stop and replace are quick and graceful. Not under
      // gVisor: there tini reaps processes runsc still waits for, which kills multi-process
      // commands and hangs `docker exec` (seen with runsc 20221219).
      Init: spec.runtime !== 'runsc',
      NanoCpus: Math.round(resources.cpus * 1e9),
      Memory: resources.memoryBytes,
      MemorySwap: resources.memoryBytes,
      PidsLimit: hostPidsLimit(resources.pids, spec.runtime),
      // Inside gVisor the processes are its own; it enforces RLIMIT_NPROC per sandbox, so that is
      // the pids bound there. (Not under runc: there the limit would count the UID host-wide.)
      ...(spec.runtime === 'runsc' ? { Ulimits: [{ Name: 'nproc', Soft: resources.pids, Hard: resources.pids }] } : {}),
      RestartPolicy: { Name: 'unless-stopped' },
    },
    // A fixed address, so an engine restart cannot hand the proxy's address to the sandbox.
    ...(spec.network === 'egress' && egress ? { NetworkingConfig: { EndpointsConfig: { [egress.network]: { IPAMConfig: { IPv4Address: sandboxAddress(egress.subnet) } } } } } : {}),
  };
}
