// The engine's create request for an environment: the hardening defaults live here.
import type Docker from 'dockerode';
import type { DesiredEnvironment } from '../model/desired.js';
import { canonicalJson } from '../model/hash.js';
import { WORKSPACE_PATH } from '../model/names.js';
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

export function workspaceLabels(project: string, d: DesiredEnvironment): Record<string, string> {
  return {
    [Labels.project]: project,
    [Labels.environment]: d.name,
    [Labels.role]: 'workspace',
    [Labels.protect]: String(d.protect),
    [Labels.version]: VERSION,
  };
}

export function containerCreateOptions(project: string, d: DesiredEnvironment): Docker.ContainerCreateOptions {
  const { spec, resources } = d;
  return {
    name: d.containerName,
    Image: spec.image,
    ...(spec.command ? { Cmd: spec.command } : {}),
    Env: Object.entries(spec.env)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`),
    User: spec.user,
    WorkingDir: WORKSPACE_PATH,
    Hostname: d.name,
    Labels: environmentLabels(project, d),
    HostConfig: {
      Mounts: [
        // The engine creates the named volume with these labels on first use, in the same call.
        { Type: 'volume', Source: d.volumeName, Target: WORKSPACE_PATH, VolumeOptions: { NoCopy: false, Labels: workspaceLabels(project, d), DriverConfig: { Name: 'local', Options: {} } } },
        ...spec.mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
      ],
      // No network object at all until the egress proxy gives an environment a way out.
      NetworkMode: spec.network,
      Runtime: spec.runtime,
      Privileged: spec.privileged,
      CapDrop: spec.privileged ? [] : ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      // tini as PID 1 forwards SIGTERM, so stop and replace are quick and graceful.
      Init: true,
      NanoCpus: Math.round(resources.cpus * 1e9),
      Memory: resources.memoryBytes,
      MemorySwap: resources.memoryBytes,
      PidsLimit: resources.pids,
      RestartPolicy: { Name: 'unless-stopped' },
    },
  };
}
