// The engine's stream framing for an exec (or logs) without a TTY: each frame is an 8-byte
// header (stream 1 stdout or 2 stderr, three zero bytes, a big-endian 32-bit length) and then
// that many bytes. Frames may arrive split across chunks or several in one chunk.
import type { Writable } from 'node:stream';

export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly stdout: Writable,
    private readonly stderr: Writable,
  ) {}

  /**
   * Writes out every whole frame; false when a stream's write asked to wait (it returned false):
   * the caller reads no more until that stream drains, or what it cannot take piles up here.
   */
  push(chunk: Buffer): boolean {
    let flowing = true;
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const payload = buf.subarray(8, 8 + size);
      // Stream 0 (stdin echoed) never comes from an exec; anything not stderr goes to stdout.
      if (!(buf[0] === 2 ? this.stderr : this.stdout).write(payload)) flowing = false;
      buf = buf.subarray(8 + size);
    }
    this.pending = Buffer.from(buf);
    return flowing;
  }

  /** Bytes of an unfinished frame left when the stream ended. */
  get leftover(): number {
    return this.pending.length;
  }
}
