// The read path: the few GET calls that observe() makes, over our own HTTP/1.1 (raw-get.ts)
// straight to the engine's socket. dockerode is a heavy import (its ssh and gRPC dependencies cost ~0.25 s at
// start-up), and read-only commands like `plan` and `status` must start fast, so dockerode is
// loaded only when something is changed. Remote engines over ssh:// or TLS read through
// dockerode, which speaks those.
import type Docker from 'dockerode';
import type { VersionAnswer } from './flavour.js';
import type { PodmanInspect } from './podman-facts.js';
import { rawJson } from './raw-get.js';
import type { Target } from './target.js';

export interface EngineReader {
  listContainers(filters: Record<string, string[]>): Promise<Docker.ContainerInfo[]>;
  listVolumes(filters: Record<string, string[]>): Promise<Docker.VolumeInspectInfo[]>;
  listImages(): Promise<Docker.ImageInfo[]>;
  info(): Promise<{ Runtimes?: Record<string, unknown>; ServerVersion?: string; NCPU?: number; MemTotal?: number }>;
  inspectContainer(id: string): Promise<Docker.ContainerInspectInfo>;
  listNetworks(): Promise<Docker.NetworkInspectInfo[]>;
  /** The version endpoint: tells Docker from Podman (flavour.ts). */
  version(): Promise<VersionAnswer>;
  /** Podman's own inspect (libpod API); only asked of Podman. */
  podmanInspect(id: string): Promise<PodmanInspect>;
  /** Podman's own info (libpod API): its network backend; only asked of Podman. */
  podmanInfo(): Promise<PodmanInfo>;
}

export interface PodmanInfo {
  host?: { networkBackend?: string };
}

/** Podman's own API, the oldest version that has what we read. */
const LIBPOD = '/v4.0.0/libpod';

export { EngineHttpError, plainTarget, requestTo, type Target } from './target.js';

export function httpReader(target: Target): EngineReader {
  const get = <T>(path: string): Promise<T> => rawJson<T>(target, 'GET', path);
  const q = (filters: Record<string, string[]>) => encodeURIComponent(JSON.stringify(filters));
  return {
    listContainers: (filters) => get(`/containers/json?all=1&filters=${q(filters)}`),
    listVolumes: async (filters) => (await get<{ Volumes: Docker.VolumeInspectInfo[] | null }>(`/volumes?filters=${q(filters)}`)).Volumes ?? [],
    listImages: () => get('/images/json'),
    info: () => get('/info'),
    inspectContainer: (id) => get(`/containers/${encodeURIComponent(id)}/json`),
    listNetworks: () => get('/networks'),
    version: () => get('/version'),
    podmanInspect: (id) => get(`${LIBPOD}/containers/${encodeURIComponent(id)}/json`),
    podmanInfo: () => get(`${LIBPOD}/info`),
  };
}

export function dockerodeReader(docker: () => Promise<Docker>): EngineReader {
  return {
    listContainers: async (filters) => (await docker()).listContainers({ all: true, filters }),
    listVolumes: async (filters) => (await (await docker()).listVolumes({ filters })).Volumes ?? [],
    listImages: async () => (await docker()).listImages(),
    info: async () => (await (await docker()).info()) as Awaited<ReturnType<EngineReader['info']>>,
    inspectContainer: async (id) => (await docker()).getContainer(id).inspect(),
    listNetworks: async () => (await docker()).listNetworks(),
    version: async () => (await docker()).version(),
    podmanInspect: async (id) => libpodGet<PodmanInspect>(await docker(), `/containers/${encodeURIComponent(id)}/json`),
    podmanInfo: async () => libpodGet<PodmanInfo>(await docker(), '/info'),
  };
}

/** A GET on Podman's own API through dockerode's connection (ssh, TLS). */
export function libpodGet<T>(d: Docker, path: string): Promise<T> {
  return new Promise((resolve, reject) =>
    d.modem.dial({ path: `${LIBPOD}${path}`, method: 'GET', statusCodes: { 200: true, 404: 'no such object' } }, (err, data) => (err ? reject(err) : resolve(data as T))),
  );
}
