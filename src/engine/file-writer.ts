// The host side of a copy out: file data written on libuv's thread pool while the main thread
// keeps reading the engine's socket (docker cp's reading and writing overlap too; done on one
// thread, a copy out ran at about half docker cp's speed on a busy machine). The bytes are
// copied into a few reused 1 MiB buffers and written with positioned writes; when all of them
// are in flight, `wait()` asks the reader to pause the socket.
import { chmodSync, closeSync, constants, openSync, utimesSync, write, type PathLike } from 'node:fs';

const SIZE = 1 << 20;
const DEPTH = 4;

export interface HostFile {
  data(chunk: Buffer): void;
  /** The last byte arrived: the file is closed, its mode and time set, once its writes are done. */
  end(): void;
  /** The copy stopped: the file is closed when its writes are done. */
  close(): void;
}

export class FileWriter {
  private readonly free: Buffer[] = [];
  private inFlight = 0;
  private failed: Error | null = null;
  private waiters: Array<() => void> = [];
  private readonly files = new Set<Promise<void>>();

  /**
   * Opens `target` O_NOFOLLOW (a symlink put there since the checks is never written through)
   * and O_NONBLOCK (a FIFO put there fails instead of blocking): made anew (O_EXCL: anything that
   * appeared there since the caller made room is refused) when `fresh`, else truncated in place.
   */
  open(target: PathLike, mode: number, mtime: Date, fresh: boolean): HostFile {
    this.check();
    const how = fresh ? constants.O_EXCL : constants.O_TRUNC;
    const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | how | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode);
    let buf: Buffer | null = null;
    let fill = 0;
    let position = 0;
    let pending = 0;
    let ended: 'no' | 'end' | 'close' = 'no';
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.files.add(done);
    const finish = () => {
      if (pending > 0 || ended === 'no') return;
      try {
        closeSync(fd);
        if (ended === 'end' && !this.failed) {
          chmodSync(target, mode);
          utimesSync(target, mtime, mtime);
        }
      } catch (err) {
        this.failed ??= err as Error;
      }
      this.files.delete(done);
      settle();
    };
    const flush = () => {
      if (!buf || fill === 0) return;
      const b = buf;
      const n = fill;
      buf = null;
      pending++;
      this.inFlight++;
      this.writeAll(fd, b, n, position, () => {
        pending--;
        this.inFlight--;
        this.free.push(b);
        this.wake();
        finish();
      });
      position += n;
    };
    return {
      data: (chunk) => {
        this.check();
        let at = 0;
        while (at < chunk.length) {
          buf ??= this.free.pop() ?? Buffer.allocUnsafe(SIZE);
          const n = chunk.copy(buf, fill, at);
          fill += n;
          at += n;
          if (fill === buf.length) {
            flush();
            fill = 0;
          }
        }
      },
      end: () => {
        flush();
        ended = 'end';
        finish();
      },
      close: () => {
        if (ended !== 'no') return;
        ended = 'close';
        finish();
      },
    };
  }

  /** A promise while every buffer is being written (the reader pauses until then), else null. */
  wait(): Promise<void> | null {
    if (this.inFlight < DEPTH) return null;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Every file written and closed; the first failure thrown. */
  async finish(): Promise<void> {
    while (this.files.size > 0) await Promise.all([...this.files]);
    this.check();
  }

  private check(): void {
    if (this.failed) throw this.failed;
  }

  private wake(): void {
    if (this.inFlight >= DEPTH) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private writeAll(fd: number, b: Buffer, n: number, position: number, done: () => void): void {
    let at = 0;
    const next = () =>
      write(fd, b, at, n - at, position + at, (err, written) => {
        if (err) {
          this.failed ??= err;
          return done();
        }
        at += written;
        if (at < n) next();
        else done();
      });
    next();
  }
}
