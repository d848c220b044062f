// The engine's stdout/stderr framing, taken apart whatever way the bytes are chunked.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FrameSplitter } from '../../../src/engine/exec-frames.js';

const frame = (stream: 1 | 2, text: string) => {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

const sink = () => {
  const parts: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _e, done) {
      parts.push(chunk.toString());
      done();
    },
  });
  return { w, text: () => parts.join('') };
};

describe('FrameSplitter', () => {
  const bytes = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err one\n'), frame(1, ''), frame(1, 'out two'), frame(2, 'x'.repeat(70_000))]);

  it('sends each frame to its stream when everything comes in one chunk', async () => {
    const out = sink();
    const err = sink();
    const s = new FrameSplitter(out.w, err.w);
    s.push(bytes);
    await new Promise((r) => setImmediate(r));
    expect(out.text()).toBe('out one\nout two');
    expect(err.text()).toBe(`err one\n${'x'.repeat(70_000)}`);
    expect(s.leftover).toBe(0);
  });

  it('gives the same answer when the bytes come one at a time, headers split', async () => {
    const out = sink();
    const err = sink();
    const s = new FrameSplitter(out.w, err.w);
    for (let i = 0; i < 200; i++) s.push(bytes.subarray(i, i + 1));
    s.push(bytes.subarray(200));
    await new Promise((r) => setImmediate(r));
    expect(out.text()).toBe('out one\nout two');
    expect(err.text()).toBe(`err one\n${'x'.repeat(70_000)}`);
  });

  it("says when a stream's write asked to wait, so the caller reads no more until it drains", () => {
    // Takes nothing until told: a reader that has not read yet.
    const slow = new Writable({ highWaterMark: 1024, write: () => undefined });
    const out = sink();
    const s = new FrameSplitter(out.w, slow);
    expect(s.push(Buffer.concat([frame(1, 'x'.repeat(4096)), frame(2, 'small')]))).toBe(true);
    expect(s.push(frame(2, 'y'.repeat(1024)))).toBe(false);
    expect(slow.writableNeedDrain).toBe(true);
    // Past a stream that waits, the other frames in the chunk are still written, in order.
    expect(s.push(Buffer.concat([frame(2, 'z'), frame(1, 'out')]))).toBe(false);
    expect(s.push(frame(1, 'x'.repeat(4096)))).toBe(true);
  });

  it('counts an unfinished frame as leftover', () => {
    const out = sink();
    const s = new FrameSplitter(out.w, out.w);
    s.push(frame(1, 'hello').subarray(0, 10));
    expect(s.leftover).toBe(10);
  });
});
