// The read path: the few GET calls that observe() makes, over node:http straight to the
// engine's socket. dockerode is a heavy import (its ssh and gRPC dependencies cost ~0.25 s at
// start-up), and read-only commands like `plan` and `status` must start fast, so dockerode is
// loaded only when something is changed. Remote engines over ssh:// or TLS read through
// dockerode, which speaks those.
import { request } from 'node:http';
import type Docker from 'dockerode';
import type { VersionAnswer } from './flavour.js';
import type { PodmanInspect } from './podman-facts.js';

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
}

/** Podman's own API, the oldest version that has what we read. */
const LIBPOD = '/v4.0.0/libpod';

export type Target = { socketPath: string } | { host: string; port: number };

/** Where a plain-HTTP reader can reach the engine, or null when only dockerode can. */
export function plainTarget(env: NodeJS.ProcessEnv = process.env): Target | null {
  const host = env.DOCKER_HOST;
  if (!host) return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('tcp://') && !env.DOCKER_TLS_VERIFY && !env.DOCKER_CERT_PATH) {
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  return null;
}

/**
 * Request options for a plain engine socket: no TLS, so no server name; left unset, node:http
 * works one out with net.isIP, whose first call compiles a large regular expression (a few ms of
 * a command's start).
 */
export const NO_SERVERNAME = { servername: '' };

export class EngineHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly json: { message?: string },
  ) {
    super(json.message ?? `engine answered ${statusCode}`);
  }
}

export function httpReader(target: Target): EngineReader {
  const get = <T>(path: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const req = request({ ...target, ...NO_SERVERNAME, path, method: 'GET', headers: { Accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : null;
          } catch (err) {
            reject(new Error(`engine sent a non-JSON answer to GET ${path}: ${(err as Error).message}`));
            return;
          }
          const status = res.statusCode ?? 0;
          if (status >= 400) reject(new EngineHttpError(status, body ?? {}));
          else resolve(body as T);
        });
      });
      req.on('error', reject);
      req.end();
    });
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
    podmanInspect: async (id) => {
      const d = await docker();
      return new Promise((resolve, reject) =>
        d.modem.dial({ path: `${LIBPOD}/containers/${encodeURIComponent(id)}/json`, method: 'GET', statusCodes: { 200: true, 404: 'no such container' } }, (err, data) =>
          err ? reject(err) : resolve(data as PodmanInspect),
        ),
      );
    },
  };
}
