// The engine's exec endpoints, over our own HTTP/1.1 (raw-get.ts) straight to the engine's socket
// when it is a plain unix or tcp one (dockerode's import alone costs more than a whole `docker exec`), and
// through dockerode for engines only it speaks to (ssh://, TLS). Both return the hijacked
// connection: stdin one way, output the other.
import type { Duplex } from 'node:stream';
import type { Docker } from './client.js';
import { rawJson, rawUpgrade } from './raw-get.js';
import { plainTarget, type Target } from './reader.js';

export interface ExecCreate {
  Cmd: string[];
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  WorkingDir: string;
  Env?: string[];
}

export interface ExecApi {
  /** Creates the exec and returns its ID. */
  create(containerId: string, body: ExecCreate): Promise<string>;
  /** Starts it attached: the engine's connection. */
  start(execId: string, tty: boolean): Promise<Duplex>;
  resize(execId: string, rows: number, columns: number): Promise<void>;
  inspect(execId: string): Promise<{ Running: boolean; ExitCode: number | null }>;
}

export function execApiFor(docker: () => Promise<Docker>): ExecApi {
  const target = plainTarget();
  return target ? httpExecApi(target) : dockerodeExecApi(docker);
}

export function httpExecApi(target: Target): ExecApi {
  return {
    create: async (containerId, body) => (await rawJson<{ Id: string }>(target, 'POST', `/containers/${encodeURIComponent(containerId)}/exec`, body)).Id,
    start: (execId, tty) => rawUpgrade(target, `/exec/${encodeURIComponent(execId)}/start`, { Detach: false, Tty: tty }),
    resize: async (execId, rows, columns) => {
      await rawJson(target, 'POST', `/exec/${encodeURIComponent(execId)}/resize?h=${rows}&w=${columns}`);
    },
    inspect: (execId) => rawJson(target, 'GET', `/exec/${encodeURIComponent(execId)}/json`),
  };
}

export function dockerodeExecApi(docker: () => Promise<Docker>): ExecApi {
  return {
    create: async (containerId, body) => (await (await docker()).getContainer(containerId).exec(body)).id,
    start: async (execId, tty) => await (await docker()).getExec(execId).start({ hijack: true, stdin: true, Detach: false, Tty: tty }),
    resize: async (execId, rows, columns) => {
      await (await docker()).getExec(execId).resize({ h: rows, w: columns });
    },
    inspect: async (execId) => {
      const info = await (await docker()).getExec(execId).inspect();
      return { Running: info.Running, ExitCode: info.ExitCode ?? null };
    },
  };
}
