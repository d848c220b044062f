// The archive a copy in sends, written into a few reused 1 MiB buffers: headers and small files
// share one, a big file is read straight into them (no stream objects, no copies, no fresh memory
// per chunk), and each goes out whole while the next is filled.
import { closeSync, constants, openSync, readSync, type PathLike } from 'node:fs';
import { END, encodeHeader, padding, type TarHeader } from './tar.js';

/** Sends a buffer; resolves once it was handed to the socket (the buffer may be reused then). */
export type Send = (chunk: Buffer) => Promise<void>;

const SIZE = 1 << 20;
const DEPTH = 4;

export class TarSender {
  private readonly free: Buffer[] = Array.from({ length: DEPTH }, () => Buffer.allocUnsafe(SIZE));
  private readonly sending: Array<Promise<void>> = [];
  private buf: Buffer | null = null;
  private fill = 0;

  constructor(private readonly send: Send) {}

  /** A header with no data (folder, symlink). */
  async entry(header: Omit<TarHeader, 'size' | 'linkname'> & { linkname?: string }): Promise<void> {
    await this.bytes(encodeHeader({ ...header, size: 0 }));
  }

  /**
   * A file entry of exactly `size` bytes, its size when the copy began: read from `path` and,
   * if it has fewer bytes now, padded with zeros (the header promised that many; `onShort`
   * says how many it had). A file that grew is sent as its first `size` bytes. Names are byte
   * strings (tar.ts); `path` a Buffer when the host's name is not UTF-8.
   */
  async file(header: Omit<TarHeader, 'type' | 'linkname'>, path: PathLike, onShort: (got: number) => void): Promise<void> {
    await this.bytes(encodeHeader({ ...header, type: 'file' }));
    const size = header.size;
    let got = 0;
    let short = false;
    const fd = size > 0 ? openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW) : null;
    try {
      while (got < size) {
        const buf = await this.space();
        const want = Math.min(size - got, buf.length - this.fill);
        const n = short ? 0 : readSync(fd!, buf, this.fill, want, got);
        if (n === 0) {
          if (!short) onShort(got);
          short = true;
          buf.fill(0, this.fill, this.fill + want);
          this.fill += want;
          got += want;
        } else {
          this.fill += n;
          got += n;
        }
      }
    } finally {
      if (fd !== null) closeSync(fd);
    }
    await this.bytes(END.subarray(0, padding(size)));
  }

  /** The end blocks, and everything still buffered sent. */
  async finish(): Promise<void> {
    await this.bytes(END);
    this.flush();
    await Promise.all(this.sending);
  }

  private async bytes(b: Buffer): Promise<void> {
    let at = 0;
    while (at < b.length) {
      const buf = await this.space();
      const n = b.copy(buf, this.fill, at);
      this.fill += n;
      at += n;
    }
  }

  /** The current buffer, with room in it (a full one is sent first). */
  private async space(): Promise<Buffer> {
    if (this.buf && this.fill === this.buf.length) this.flush();
    if (!this.buf) {
      while (this.free.length === 0) await this.sending[0];
      this.buf = this.free.pop()!;
      this.fill = 0;
    }
    return this.buf;
  }

  private flush(): void {
    const buf = this.buf;
    if (!buf || this.fill === 0) return;
    this.buf = null;
    const sent: Promise<void> = this.send(buf.subarray(0, this.fill)).then(() => {
      void this.sending.splice(this.sending.indexOf(sent), 1);
      this.free.push(buf);
    });
    void sent.catch(() => undefined); // awaited when its buffer is wanted, or at the end
    this.sending.push(sent);
  }
}
