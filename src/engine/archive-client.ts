// The engine's archive API for one container (HEAD stat, GET and PUT /archive), streamed. Over
// our own HTTP/1.1 client (raw-get.ts) straight to the engine's socket when it is a plain one
// (dockerode costs ~0.3 s to load, a quarter of a small copy; node:http ~10 ms); through
// dockerode for ssh:// and TLS engines.
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { Engine } from './client.js';
import { rawGet, rawHead, rawPut } from './raw-get.js';
import { EngineHttpError, plainTarget } from './reader.js';
import type { Send } from './tar-send.js';

export interface PathStat {
  name: string;
  size: number;
  mode: number;
  /** The fully resolved target, in the container's scope, when the path is a symlink. */
  linkTarget: string;
}

export interface ArchiveClient {
  /** The engine's stat of a path (its last component not followed); null when it is missing. */
  stat(path: string): Promise<PathStat | null>;
  /**
   * The path as a tar archive (its top entry is the path's last component), handed to `onData`
   * piece by piece, each valid only during the call; resolves once all of it was taken. A
   * promise from `onData` holds the next piece back until it settles.
   */
  get(path: string, onData: (data: Buffer) => void | Promise<void>): Promise<void>;
  /**
   * Unpacks the tar archive `produce` sends into the folder `dir`, never replacing a folder by a
   * file or back. `send` resolves once the engine's connection took the buffer (it may be reused).
   */
  put(dir: string, produce: (send: Send) => Promise<void>): Promise<void>;
}

export function archiveClient(engine: Engine, container: string): ArchiveClient {
  const target = plainTarget();
  return target ? httpArchive(target, container) : dockerodeArchive(engine, container);
}

function decodeStat(header: string | string[] | undefined, path: string): PathStat {
  if (typeof header !== 'string') throw new Error(`the engine's stat of ${path} had no X-Docker-Container-Path-Stat header`);
  return JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as PathStat;
}

type Target = NonNullable<ReturnType<typeof plainTarget>>;

function httpArchive(target: Target, container: string): ArchiveClient {
  const url = (path: string, extra = '') => `/containers/${encodeURIComponent(container)}/archive?path=${encodeURIComponent(path)}${extra}`;
  return {
    stat: async (path) => {
      try {
        return decodeStat((await rawHead(target, url(path)))('x-docker-container-path-stat'), path);
      } catch (err) {
        // A 404 is the path's, or, in a race with a replace, the container's: a HEAD answer has
        // no body to tell them apart. cp (app/copy-run.ts) asks again when the root itself was missing.
        if (err instanceof EngineHttpError && err.statusCode === 404) return null;
        throw err;
      }
    },
    get: (path, onData) => rawGet(target, url(path), onData),
    put: (dir, produce) => rawPut(target, url(dir, '&noOverwriteDirNonDir=true'), 'application/x-tar', produce),
  };
}

function dockerodeArchive(engine: Engine, name: string): ArchiveClient {
  const container = async () => (await engine.docker()).getContainer(name);
  return {
    stat: async (path) => {
      try {
        const res = (await (await container()).infoArchive({ path })) as unknown as IncomingMessage;
        res.resume();
        return decodeStat(res.headers['x-docker-container-path-stat'], path);
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return null;
        throw err;
      }
    },
    get: async (path, onData) => {
      const body = (await (await container()).getArchive({ path })) as unknown as Readable;
      try {
        for await (const chunk of body) await onData(chunk as Buffer);
      } finally {
        body.destroy();
      }
    },
    put: async (dir, produce) => {
      // dockerode takes a stream: each buffer is copied into it (the sender reuses its own).
      const body = new PassThrough({ highWaterMark: 4 << 20 });
      const send: Send = async (chunk) => {
        if (!body.write(Buffer.from(chunk))) await new Promise((resolve) => body.once('drain', resolve));
      };
      const produced = produce(send).then(
        () => body.end(),
        (err: Error) => {
          body.destroy(err);
          throw err;
        },
      );
      await Promise.all([produced, (await container()).putArchive(body, { path: dir, noOverwriteDirNonDir: true })]);
    },
  };
}
