// Where the engine can be reached over plain HTTP (a unix socket or tcp without TLS), and the
// error an engine's refusal becomes. Apart from reader.ts so the HTTP code can use them.
import type { RequestOptions } from 'node:http';

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
 * node:http options for a request to `target`. The empty servername matters: without one,
 * node:http's agent works out a TLS server name even for plain HTTP, testing the host against
 * Node's IPv6 pattern, whose first use compiles it (about 10 ms, a tenth of a whole `exec`).
 */
export function requestTo(target: Target): RequestOptions {
  const options = { ...target, servername: '' };
  return options;
}

export class EngineHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly json: { message?: string },
  ) {
    super(json.message ?? `engine answered ${statusCode}`);
  }
}
