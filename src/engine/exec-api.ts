// The engine's exec endpoints, over node:http straight to the engine's socket when it is a
// plain unix or tcp one (dockerode's import alone costs more than a whole `docker exec`), and
// through dockerode for engines only it speaks to (ssh://, TLS). Both return the hijacked
// connection: stdin one way, output the other.
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Docker } from './client.js';
import { EngineHttpError, plainTarget, requestTo, type Target } from './reader.js';

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
  const call = <T>(method: string, path: string, body?: unknown): Promise<T> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers: Record<string, string> = payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) };
      const req = request({ ...requestTo(target), path, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            parsed = { message: text.trim() };
          }
          if (status >= 400) reject(new EngineHttpError(status, (parsed as { message?: string }) ?? {}));
          else resolve(parsed as T);
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  return {
    create: async (containerId, body) => (await call<{ Id: string }>('POST', `/containers/${encodeURIComponent(containerId)}/exec`, body)).Id,
    start: (execId, tty) =>
      new Promise((resolve, reject) => {
        const payload = JSON.stringify({ Detach: false, Tty: tty });
        const req = request({
          ...requestTo(target),
          path: `/exec/${encodeURIComponent(execId)}/start`,
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)), Connection: 'Upgrade', Upgrade: 'tcp' },
        });
        req.on('upgrade', (_res, socket, head) => {
          if (head.length > 0) socket.unshift(head);
          resolve(socket);
        });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8').trim();
            let message = text;
            try {
              message = (JSON.parse(text) as { message?: string }).message ?? text;
            } catch {
              // plain text is the message
            }
            reject(new EngineHttpError(res.statusCode ?? 0, { message: message || `the engine did not attach to exec ${execId}` }));
          });
        });
        req.on('error', reject);
        req.end(payload);
      }),
    resize: async (execId, rows, columns) => {
      await call('POST', `/exec/${encodeURIComponent(execId)}/resize?h=${rows}&w=${columns}`);
    },
    inspect: (execId) => call('GET', `/exec/${encodeURIComponent(execId)}/json`),
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
