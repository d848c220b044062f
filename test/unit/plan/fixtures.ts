// Literal desired and observed states for pure planner and renderer tests.
import { BUILTIN_DEFAULTS, type Config, type EnvironmentConfig } from '../../../src/config/types.js';
import type { DesiredEnvironment, DesiredState } from '../../../src/model/desired.js';
import type { ObservedContainer, ObservedState } from '../../../src/model/observed.js';
import { resolveDesired } from '../../../src/model/resolve.js';

export const IMAGE_ID = 'sha256:1111111111111111111111111111111111111111111111111111111111111111';

export function env(name: string, extra: Partial<EnvironmentConfig> = {}): EnvironmentConfig {
  return {
    name,
    image: 'busybox',
    env: {},
    secrets: {},
    resources: { ...BUILTIN_DEFAULTS.resources },
    runtime: 'runc',
    uid: 65532,
    gid: 65532,
    workspace: {},
    protect: false,
    egress: { mode: 'none' },
    idle: { stopAfterSeconds: null, action: 'stop', cpuPercent: 5 },
    privileged: false,
    hostNetwork: false,
    mounts: [],
    allowDangerous: [],
    allowContractMismatch: false,
    volumes: {},
    userSet: false,
    ...extra,
  };
}

export function desiredOf(envs: EnvironmentConfig[], processEnv: NodeJS.ProcessEnv = {}, opts: { moved?: Array<{ from: string; to: string }> } = {}): DesiredState {
  const config: Config = {
    version: 1,
    project: 'demo',
    file: '/repo/sandboxshift.yaml',
    dir: '/repo',
    images: { busybox: { name: 'busybox', ref: 'sandboxshift/busybox:test' } },
    environments: Object.fromEntries(envs.map((e) => [e.name, e])),
    moved: opts.moved ?? [],
    source: 'literal',
  };
  const r = resolveDesired(config, { env: processEnv });
  if (r.diagnostics.length) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.desired;
}

/** The container that applying `d` leaves behind. */
export function applied(d: DesiredEnvironment, extra: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: `c0ffee${d.name.padEnd(58, '0')}`.slice(0, 64),
    name: d.containerName,
    environment: d.name,
    state: 'running',
    status: 'Up 5 minutes',
    imageId: IMAGE_ID,
    image: d.spec.image,
    configHash: d.configHash,
    spec: structuredClone(d.spec),
    resources: { ...d.resources },
    resourcesFrom: 'label',
    protect: d.protect,
    isolation: null,
    inspected: null,
    ...extra,
  };
}

export function observedOf(
  containers: ObservedContainer[],
  opts: { volumes?: string[]; runtimes?: string[]; imageId?: string; foreign?: string[]; movedFrom?: Record<string, string>; filling?: string[] } = {},
): ObservedState {
  const volumes = opts.volumes ?? containers.map((c) => c.environment);
  return {
    project: 'demo',
    containers: new Map(containers.map((c) => [c.environment, c])),
    duplicates: [],
    networks: new Map(),
    outsideNetwork: false,
    usedSubnets: [],
    proxies: new Map(),
    protectRecords: new Map(),
    volumes: new Map(volumes.map((v) => [v, { name: `ss.demo.${v}.workspace`, environment: v, protect: false, movedFrom: opts.movedFrom?.[v] ?? null }])),
    filling: new Set(opts.filling ?? []),
    foreignVolumes: new Map((opts.foreign ?? []).map((v) => [v, { name: `ss.demo.${v}.workspace`, environment: v, labels: {} }])),
    images: new Map([['sandboxshift/busybox:test', { id: opts.imageId ?? IMAGE_ID, contract: '1', build: null, created: 0, tags: ['sandboxshift/busybox:test'] }]]),
    runtimes: opts.runtimes ?? ['runc', 'runsc'],
    engineVersion: '20.10.24',
  };
}
