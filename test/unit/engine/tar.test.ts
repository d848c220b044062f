// The hand-written tar writer and reader cp uses, and its host-side file writer; checked against tar-stream both ways (what we
// write, it reads; what it writes, we read), fed in every slicing, with long and non-ASCII
// names (PAX), names that are bytes and not UTF-8, and refusing a damaged or cut archive.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract, pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { END, TarReader, encodeHeader, padding, type TarHeader } from '../../../src/engine/tar.js';
import { TarSender } from '../../../src/engine/tar-send.js';
import { FileWriter } from '../../../src/engine/file-writer.js';

const mtime = new Date(1_700_000_000_000);
const LONG = `${'a'.repeat(90)}/${'b'.repeat(90)}/${'c'.repeat(90)}`;
/** Names are byte strings (one character per byte): a JS string's UTF-8 bytes, or bytes as such. */
const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))).toString('latin1');

function archive(files: Array<{ name: string; body: string; type?: TarHeader['type']; linkname?: string }>): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const body = Buffer.from(f.body);
    parts.push(encodeHeader({ name: f.name, type: f.type ?? 'file', mode: 0o640, uid: 65532, gid: 65532, size: body.length, mtime, linkname: f.linkname }), body, Buffer.alloc(padding(body.length)));
  }
  return Buffer.concat([...parts, END]);
}

/** What our reader makes of `tar`, fed `step` bytes at a time. */
function read(tar: Buffer, step: number): Array<{ name: string; type: string; mode: number; size: number; linkname: string; body: string; mtime: number }> {
  const out: Array<{ name: string; type: string; mode: number; size: number; linkname: string; body: string; mtime: number }> = [];
  const reader = new TarReader((h) => {
    const parts: Buffer[] = [];
    out.push({ name: h.name, type: h.type, mode: h.mode, size: h.size, linkname: h.linkname, body: '', mtime: h.mtime.getTime() });
    const entry = out[out.length - 1]!;
    return { data: (c) => parts.push(Buffer.from(c)), end: () => (entry.body = Buffer.concat(parts).toString('utf8')) };
  }, '/workspace/x');
  for (let at = 0; at < tar.length; at += step) reader.feed(tar.subarray(at, at + step));
  reader.end();
  return out;
}

async function tarStreamRead(tar: Buffer): Promise<Array<{ name: string; type: string; size: number; linkname: string | null; body: string }>> {
  const ex = extract();
  const out: Array<{ name: string; type: string; size: number; linkname: string | null; body: string }> = [];
  const done = (async () => {
    for await (const entry of ex) {
      const parts: Buffer[] = [];
      for await (const c of entry) parts.push(c as Buffer);
      out.push({ name: entry.header.name, type: entry.header.type ?? '', size: entry.header.size ?? 0, linkname: entry.header.linkname ?? null, body: Buffer.concat(parts).toString('utf8') });
    }
  })();
  ex.end(tar);
  await done;
  return out;
}

describe('tar writer and reader', () => {
  const files = [
    { name: 'd', body: '', type: 'directory' as const },
    { name: 'd/short.txt', body: 'hello' },
    { name: `d/${LONG}`, body: 'x'.repeat(1000) },
    { name: `d/${'p'.repeat(120)}/${'q'.repeat(80)}`, body: 'prefix split' },
    { name: utf8('d/ünïcode.txt'), body: 'utf8 name' },
    { name: 'd/ln', body: '', type: 'symlink' as const, linkname: `../${'t'.repeat(150)}` },
  ];

  it('reads back what it writes, in any slicing, with long and non-ASCII names through PAX', () => {
    const tar = archive(files);
    for (const step of [1, 7, 511, 512, 513, 4096, tar.length]) {
      const got = read(tar, step);
      expect(got.map((e) => [e.name, e.type, e.body, e.linkname])).toEqual([
        ['d/', 'directory', '', ''],
        ['d/short.txt', 'file', 'hello', ''],
        [`d/${LONG}`, 'file', 'x'.repeat(1000), ''],
        [`d/${'p'.repeat(120)}/${'q'.repeat(80)}`, 'file', 'prefix split', ''],
        [utf8('d/ünïcode.txt'), 'file', 'utf8 name', ''],
        ['d/ln', 'symlink', '', `../${'t'.repeat(150)}`],
      ]);
      expect(got[1]).toMatchObject({ mode: 0o640, size: 5, mtime: mtime.getTime() });
    }
  });

  it('writes archives tar-stream reads the same way, and reads the ones tar-stream writes', async () => {
    expect(await tarStreamRead(archive(files))).toEqual([
      { name: 'd/', type: 'directory', size: 0, linkname: null, body: '' },
      { name: 'd/short.txt', type: 'file', size: 5, linkname: null, body: 'hello' },
      { name: `d/${LONG}`, type: 'file', size: 1000, linkname: null, body: 'x'.repeat(1000) },
      { name: `d/${'p'.repeat(120)}/${'q'.repeat(80)}`, type: 'file', size: 12, linkname: null, body: 'prefix split' },
      { name: 'd/ünïcode.txt', type: 'file', size: 9, linkname: null, body: 'utf8 name' },
      { name: 'd/ln', type: 'symlink', size: 0, linkname: `../${'t'.repeat(150)}`, body: '' },
    ]);
    const p = pack();
    p.entry({ name: `d/${LONG}`, mode: 0o600, mtime }, 'from tar-stream');
    p.entry({ name: 'd/hard', type: 'link', linkname: `d/${LONG}` });
    p.finalize();
    const parts: Buffer[] = [];
    for await (const c of p as unknown as AsyncIterable<Buffer>) parts.push(c);
    expect(read(Buffer.concat(parts), 100).map((e) => [e.name, e.type, e.mode, e.body, e.linkname])).toEqual([
      [`d/${LONG}`, 'file', 0o600, 'from tar-stream', ''],
      ['d/hard', 'link', 0o644, '', `d/${LONG}`],
    ]);
  });

  it('reads names as their bytes: not UTF-8 (a PAX path as Go writes it, its USTAR field `u8/`) or UTF-8; no two become one', async () => {
    // What Docker's engine sends for /workspace/u8 holding the files \xFF and \xFE: a PAX path
    // with the bytes, and a USTAR name with them left out, `u8/`, which is no folder.
    const goStyle = (name: string, body: string) => {
      const withPax = encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime });
      const ustar = encodeHeader({ name: name.replace(/[\x80-\xff]/g, ''), type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime });
      return Buffer.concat([withPax.subarray(0, withPax.length - 512), ustar, Buffer.from(body), Buffer.alloc(padding(body.length))]);
    };
    const folder = encodeHeader({ name: 'u8', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime });
    const tar = Buffer.concat([folder, goStyle(bytes('u8/', [0xff]), 'ONE'), goStyle(bytes('u8/', [0xfe]), 'TWO'), END]);
    for (const step of [1, 512, tar.length]) {
      expect(read(tar, step).map((e) => [Buffer.from(e.name, 'latin1'), e.type, e.body])).toEqual([
        [Buffer.from('u8/'), 'directory', ''],
        [Buffer.from([0x75, 0x38, 0x2f, 0xff]), 'file', 'ONE'],
        [Buffer.from([0x75, 0x38, 0x2f, 0xfe]), 'file', 'TWO'],
      ]);
    }
    // A UTF-8 name from another writer (tar-stream, in a PAX record) reads as its UTF-8 bytes.
    const p = pack();
    p.entry({ name: 'd/ünïcode', mode: 0o600, mtime }, 'u');
    p.finalize();
    const parts: Buffer[] = [];
    for await (const c of p as unknown as AsyncIterable<Buffer>) parts.push(c);
    expect(read(Buffer.concat(parts), 100).map((e) => e.name)).toEqual([utf8('d/ünïcode')]);
  });

  it('writes names as their bytes: PAX path and linkpath records, with hdrcharset=BINARY when they are not UTF-8', () => {
    const name = bytes('d/caf', [0xe9]);
    const target = bytes('caf', [0xe9]);
    const file = encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime });
    expect(file.includes(Buffer.from('hdrcharset=BINARY\n'))).toBe(true);
    expect(file.includes(Buffer.from([...Buffer.from(' path=d/caf'), 0xe9, 0x0a]))).toBe(true);
    const link = encodeHeader({ name: 'd/ln', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, mtime, linkname: target });
    expect(link.includes(Buffer.from([...Buffer.from(' linkpath=caf'), 0xe9, 0x0a]))).toBe(true);
    // UTF-8 names need no hdrcharset; the records' lengths count bytes.
    const u = encodeHeader({ name: utf8('d/ü'), type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime });
    expect(u.includes(Buffer.from('hdrcharset'))).toBe(false);
    expect(u.includes(Buffer.from(' path=d/ü\n'))).toBe(true);
    expect(read(Buffer.concat([file, link, u, END]), 512).map((e) => [e.name, e.linkname])).toEqual([
      [name, ''],
      ['d/ln', target],
      [utf8('d/ü'), ''],
    ]);
    // A JS string that is no byte string is a caller's mistake, never written as something else.
    expect(() => encodeHeader({ name: 'd/€', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime })).toThrow('tar names are byte strings');
  });

  it('refuses a damaged header and an archive cut inside an entry', () => {
    const tar = archive([{ name: 'a.txt', body: 'some bytes' }]);
    const bad = Buffer.from(tar);
    bad[0] = 'b'.charCodeAt(0);
    expect(() => read(bad, 512)).toThrow('the archive of /workspace/x has a malformed header (bad checksum)');
    expect(() => read(tar.subarray(0, 515), 512)).toThrow('the archive of /workspace/x ended in the middle of an entry');
  });
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ss-tar-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('TarSender', () => {
  it('sends files across its reused buffers exactly, pads a file that shrank with zeros and says how much it had', async () => {
    const big = Buffer.alloc(3 * (1 << 20) + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    writeFileSync(join(dir, 'big'), big);
    writeFileSync(join(dir, 'short'), 'abc');
    const sent: Buffer[] = [];
    const tar = new TarSender(async (chunk) => {
      sent.push(Buffer.from(chunk));
      await new Promise((resolve) => setImmediate(resolve));
    });
    const shorts: number[] = [];
    const common = { uid: 1, gid: 1, mode: 0o644, mtime };
    await tar.entry({ ...common, name: 'd', type: 'directory' });
    await tar.file({ ...common, name: 'd/big', size: big.length }, join(dir, 'big'), () => shorts.push(-1));
    await tar.file({ ...common, name: 'd/short', size: 10 }, join(dir, 'short'), (got) => shorts.push(got));
    await tar.finish();
    expect(sent.length).toBeGreaterThan(3);
    expect(Math.max(...sent.map((c) => c.length))).toBe(1 << 20);
    expect(shorts).toEqual([3]);
    const got = read(Buffer.concat(sent), 65536);
    expect(got.map((e) => [e.name, e.size])).toEqual([
      ['d/', 0],
      ['d/big', big.length],
      ['d/short', 10],
    ]);
    const whole = Buffer.concat(sent);
    const at = whole.indexOf(big.subarray(0, 64));
    expect(whole.subarray(at, at + big.length).equals(big)).toBe(true);
    expect(got[2]!.body).toBe('abc\0\0\0\0\0\0\0');
  });
});

// The copy-out file writer: data copied into reused buffers and written on the thread pool at its
// positions, the reader asked to wait while every buffer is in flight, mode and time set once the
// last write is done.
describe('FileWriter', () => {
  it('writes every byte in order across its buffers, asks the reader to wait, then sets mode and time', async () => {
    const data = Buffer.alloc(6 * (1 << 20) + 333);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) % 256;
    const files = new FileWriter();
    const mtime = new Date(1_600_000_000_000);
    const f = files.open(join(dir, 'big'), 0o640, mtime, true);
    const small = files.open(join(dir, 'small'), 0o600, mtime, true);
    small.data(Buffer.from('tiny'));
    small.end();
    let waits = 0;
    for (let at = 0; at < data.length; at += 32_768) {
      f.data(data.subarray(at, at + 32_768));
      const wait = files.wait();
      if (wait) {
        waits++;
        await wait;
      }
    }
    f.end();
    await files.finish();
    expect(waits).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'big')).equals(data)).toBe(true);
    expect(readFileSync(join(dir, 'small'), 'utf8')).toBe('tiny');
    const st = statSync(join(dir, 'big'));
    expect(st.mode & 0o777).toBe(0o640);
    expect(st.mtimeMs).toBe(mtime.getTime());
  });

  it('a file closed before its end (the copy stopped) gets nothing more written; a file that cannot be opened throws', async () => {
    const files = new FileWriter();
    const f = files.open(join(dir, 'cut'), 0o644, new Date(0), true);
    f.data(Buffer.from('half'));
    f.close();
    await files.finish();
    expect(readFileSync(join(dir, 'cut'), 'utf8')).toBe('');
    expect(() => files.open(join(dir, 'missing', 'x'), 0o644, new Date(0), true)).toThrow(/ENOENT/);
  });

  it('a file to be made anew that appeared meanwhile is refused, never written into; one to be rewritten is truncated', async () => {
    const files = new FileWriter();
    writeFileSync(join(dir, 'raced'), 'someone else');
    expect(() => files.open(join(dir, 'raced'), 0o644, new Date(0), true)).toThrow(/EEXIST/);
    expect(readFileSync(join(dir, 'raced'), 'utf8')).toBe('someone else');
    const f = files.open(join(dir, 'raced'), 0o644, new Date(0), false);
    f.data(Buffer.from('new'));
    f.end();
    await files.finish();
    expect(readFileSync(join(dir, 'raced'), 'utf8')).toBe('new');
  });
});
