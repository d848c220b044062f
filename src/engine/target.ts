// Where the engine can be reached over plain HTTP (a unix socket or tcp without TLS), and the
// error an engine's refusal becomes. Apart from reader.ts so the HTTP code can use them.
import type { RequestOptions } from 'node:http';

export type Target = { socketPath: string } | { host: string; port: number };

/**
 * Where a plain-HTTP reader can reach the engine, or null when only dockerode can, or when
 * DOCKER_HOST names no engine (dockerHostProblem; connectEngine says so).
 */
export function plainTarget(env: NodeJS.ProcessEnv = process.env): Target | null {
  const host = env.DOCKER_HOST;
  if (!host) return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('tcp://') && !env.DOCKER_TLS_VERIFY && !env.DOCKER_CERT_PATH && dockerHostProblem(host) === null) {
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  return null;
}

/** The schemes a network engine is named by in DOCKER_HOST, as dockerode reads them. */
const NETWORK_SCHEMES = new Set(['tcp:', 'http:', 'https:', 'ssh:']);

/**
 * Why DOCKER_HOST (`value`) names no engine, in a few words; null when it names one, or is unset.
 * Read as dockerode reads it: unix:// and npipe:// are followed by a path, a value without `//`
 * is a host (tcp://VALUE), anything else a URL of a network scheme that names a host.
 */
export function dockerHostProblem(value: string | undefined): string | null {
  if (!value || value.startsWith('unix://') || value.startsWith('npipe://')) return null;
  const url = dockerHostUrl(value);
  if (!url) return 'not a URL, or its port is not a number up to 65535';
  if (!NETWORK_SCHEMES.has(url.protocol)) return `unknown scheme ${url.protocol}//`;
  if (!url.hostname) return `no host after ${url.protocol}//`;
  return null;
}

/** The host DOCKER_HOST (`value`) names over the network, as a name lookup would ask for it; null for a socket. */
export function dockerHostName(value: string | undefined): string | null {
  if (!value || value.startsWith('unix://') || value.startsWith('npipe://')) return null;
  return dockerHostUrl(value)?.hostname || null;
}

function dockerHostUrl(value: string): URL | null {
  try {
    // dockerode's reading: a value without `//` is a host and port, reached over tcp.
    return new URL(value.includes('//') ? value : `tcp://${value}`);
  } catch {
    return null;
  }
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
