// The tar format as `sandboxshift cp` needs it, without a stream library in between: header
// blocks for the archive sent in (USTAR, PAX records for what does not fit), and a synchronous
// reader for the one that comes out, fed straight from the socket's read buffer, each file's
// bytes handed over as views of it (no copies; tar-stream and streamx copied every chunk twice
// and took about a third of a 200 MB copy's time).
//
// Names and link targets are byte strings: one character per byte (latin1), never decoded as
// UTF-8, so a name that is not valid UTF-8 (`caf\xE9`) passes through byte for byte, and `/`, `.`
// and NUL are the bytes they are for the path checks in model/copy-paths.ts. rawName() there
// makes one from a JS string, showName() shows one to the user.
import { isUtf8 } from 'node:buffer';

export const BLOCK = 512;

export type TarType = 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo' | 'contiguous-file';

export interface TarHeader {
  /** A byte string (latin1: one character per byte), as are `linkname` and the PAX records. */
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  linkname: string;
}

const TYPES: Record<string, TarType> = { '0': 'file', '\0': 'file', '1': 'link', '2': 'symlink', '3': 'character-device', '4': 'block-device', '5': 'directory', '6': 'fifo', '7': 'contiguous-file' };
const FLAGS: Partial<Record<TarType, string>> = { file: '0', link: '1', symlink: '2', directory: '5' };

/** Zero bytes that round `size` up to whole blocks. */
export const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/** The end of an archive: two zero blocks. */
export const END = Buffer.alloc(2 * BLOCK);

// Octal field limits: 7 digits (uid, gid, mode), 11 (size, mtime).
const MAX7 = 0o7777777;
const MAX11 = 0o77777777777;

/**
 * The header block(s) of one entry: a USTAR block, preceded by a PAX header when the name, the
 * link target, the size or an id does not fit (or is not ASCII). Directory names end with `/`.
 * `name` and `linkname` are byte strings, written as those bytes (PAX records for anything not
 * ASCII, as Go's archive/tar does; `hdrcharset=BINARY` when they are not UTF-8, as POSIX asks).
 */
export function encodeHeader(h: Omit<TarHeader, 'linkname'> & { linkname?: string }): Buffer {
  const name = h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  const linkname = h.linkname ?? '';
  if (NOT_BYTES.test(name) || NOT_BYTES.test(linkname)) throw new Error(`tar names are byte strings (one character per byte): ${JSON.stringify(name)}`);
  const pax: Array<[string, string]> = [];
  let split = splitName(name);
  if (split === null) {
    pax.push(['path', name]);
    split = { prefix: '', name: asciiCut(name, 100) };
  }
  if (!fits(linkname, 100)) pax.push(['linkpath', linkname]);
  if (h.size > MAX11) pax.push(['size', String(h.size)]);
  if (h.uid > MAX7) pax.push(['uid', String(h.uid)]);
  if (h.gid > MAX7) pax.push(['gid', String(h.gid)]);
  if (pax.some(([k, v]) => (k === 'path' || k === 'linkpath') && !isUtf8(Buffer.from(v, 'latin1')))) pax.unshift(['hdrcharset', 'BINARY']);
  const seconds = Math.floor(h.mtime.getTime() / 1000);
  const block = ustar({
    name: split.name,
    prefix: split.prefix,
    mode: h.mode & 0o7777,
    uid: Math.min(h.uid, MAX7),
    gid: Math.min(h.gid, MAX7),
    size: h.size > MAX11 ? 0 : h.size,
    mtime: Math.min(Math.max(seconds, 0), MAX11),
    flag: FLAGS[h.type] ?? '0',
    linkname: fits(linkname, 100) ? linkname : asciiCut(linkname, 100),
  });
  if (pax.length === 0) return block;
  const records = Buffer.from(pax.map(([k, v]) => paxRecord(k, v)).join(''), 'latin1');
  const paxName = asciiCut(`PaxHeaders.0/${split.name.split('/').pop() ?? ''}`, 100);
  const paxHead = ustar({ name: paxName, prefix: '', mode: 0o644, uid: 0, gid: 0, size: records.length, mtime: 0, flag: 'x', linkname: '' });
  return Buffer.concat([paxHead, records, Buffer.alloc(padding(records.length)), block]);
}

const NOT_BYTES = /[\u0100-\uffff]/;
const NOT_ASCII = /[\u0080-\uffff]/;
const fits = (s: string, n: number) => !NOT_ASCII.test(s) && s.length <= n;
const asciiCut = (s: string, n: number) => s.replace(/[^\x20-\x7e]/g, '_').slice(0, n);

/** USTAR's name and prefix (name ≤ 100 bytes, prefix ≤ 155, split at a `/`), or null. */
function splitName(name: string): { prefix: string; name: string } | null {
  if (NOT_ASCII.test(name)) return null;
  if (name.length <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i !== -1 && i <= 155; i = name.indexOf('/', i + 1)) {
    const rest = name.slice(i + 1);
    if (rest.length <= 100 && rest !== '' && rest !== '/') return { prefix: name.slice(0, i), name: rest };
  }
  return null;
}

/** One PAX record, `LEN key=value\n` (a byte string), its length counting its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const n = body.length;
  let len = n + String(n).length;
  if (String(len).length !== String(n).length) len = n + String(len).length;
  return `${len}${body}`;
}

function ustar(f: { name: string; prefix: string; mode: number; uid: number; gid: number; size: number; mtime: number; flag: string; linkname: string }): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(f.name, 0, 100, 'latin1');
  octal(b, 100, 8, f.mode);
  octal(b, 108, 8, f.uid);
  octal(b, 116, 8, f.gid);
  octal(b, 124, 12, f.size);
  octal(b, 136, 12, f.mtime);
  b.write(f.flag, 156, 1, 'latin1');
  b.write(f.linkname, 157, 100, 'latin1');
  b.write('ustar\x0000', 257, 8, 'latin1');
  octal(b, 329, 8, 0);
  octal(b, 337, 8, 0);
  b.write(f.prefix, 345, 155, 'latin1');
  b.write('        ', 148, 8, 'latin1');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return b;
}

function octal(b: Buffer, at: number, width: number, n: number): void {
  b.write(`${n.toString(8).padStart(width - 1, '0')}\0`, at, width, 'latin1');
}

/** What a reader hands each entry's bytes to (views of the read buffer, valid only during the call). */
export interface EntrySink {
  data(chunk: Buffer): void;
  end(): void;
  /** The archive stopped before the entry's end (an error): release what it holds. */
  close?(): void;
}

/**
 * A synchronous tar reader: `feed` it the archive's bytes in any slicing; `entry` is called at
 * each entry's header (PAX and GNU long names applied) and may return where that entry's bytes
 * go. What `entry` or a sink throws leaves through `feed`. `end()` checks the archive finished.
 */
export class TarReader {
  private state: 'header' | 'data' | 'meta' | 'pad' | 'done' = 'header';
  private readonly block = Buffer.alloc(BLOCK);
  private filled = 0;
  private remaining = 0;
  private pad = 0;
  private sink: EntrySink | null = null;
  private meta: { kind: string; parts: Buffer[] } | null = null;
  private pax: Record<string, string> = {};
  private longName: string | null = null;
  private longLink: string | null = null;
  private zeros = 0;

  constructor(
    private readonly entry: (header: TarHeader) => EntrySink | null,
    private readonly describe: string,
  ) {}

  feed(data: Buffer): void {
    let at = 0;
    while (at < data.length && this.state !== 'done') {
      if (this.state === 'header') {
        let head: Buffer;
        if (this.filled === 0 && data.length - at >= BLOCK) {
          head = data.subarray(at, at + BLOCK);
          at += BLOCK;
        } else {
          const n = Math.min(BLOCK - this.filled, data.length - at);
          data.copy(this.block, this.filled, at, at + n);
          this.filled += n;
          at += n;
          if (this.filled < BLOCK) return;
          this.filled = 0;
          head = this.block;
        }
        this.header(head);
      } else if (this.state === 'data' || this.state === 'meta') {
        const n = Math.min(this.remaining, data.length - at);
        const part = data.subarray(at, at + n);
        if (this.state === 'meta') this.meta!.parts.push(Buffer.from(part));
        else this.sink?.data(part);
        at += n;
        this.remaining -= n;
        if (this.remaining === 0) this.entryDone();
      } else {
        const n = Math.min(this.pad, data.length - at);
        at += n;
        this.pad -= n;
        if (this.pad === 0) this.state = 'header';
      }
    }
  }

  /** Releases the entry being read, if the reading stopped inside one. */
  close(): void {
    this.sink?.close?.();
    this.sink = null;
  }

  /** The archive ended: throws when it stopped inside an entry. */
  end(): void {
    if (this.state === 'done' || (this.state === 'header' && this.filled === 0)) return;
    throw new Error(`the archive of ${this.describe} ended in the middle of an entry`);
  }

  private header(b: Buffer): void {
    if (b.every((x) => x === 0)) {
      if (++this.zeros === 2) this.state = 'done';
      return;
    }
    this.zeros = 0;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
    if (sum !== number(b, 148, 8)) throw new Error(`the archive of ${this.describe} has a malformed header (bad checksum)`);
    const flag = String.fromCharCode(b[156]!);
    const size = number(b, 124, 12);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      this.meta = { kind: flag, parts: [] };
      this.startData(size, 'meta');
      return;
    }
    let name = text(b, 0, 100);
    if (b.toString('latin1', 257, 262) === 'ustar' && b[345] !== 0) name = `${text(b, 345, 155)}/${name}`;
    const pax = this.pax;
    const fullName = pax.path ?? this.longName ?? name;
    let type = TYPES[flag] ?? (`type ${JSON.stringify(flag)}` as TarType);
    // Old tar's folders: no type, a name ending in `/` (the full name: Go writes the USTAR field
    // of `d/\xFF`, whose PAX path has its bytes, as `d/`, and that file is no folder).
    if (flag === '\0' && fullName.endsWith('/')) type = 'directory';
    const header: TarHeader = {
      name: fullName,
      type,
      mode: number(b, 100, 8),
      uid: pax.uid !== undefined ? Number(pax.uid) : number(b, 108, 8),
      gid: pax.gid !== undefined ? Number(pax.gid) : number(b, 116, 8),
      size: pax.size !== undefined ? Number(pax.size) : size,
      mtime: new Date(number(b, 136, 12) * 1000),
      linkname: pax.linkpath ?? this.longLink ?? text(b, 157, 100),
    };
    this.pax = {};
    this.longName = null;
    this.longLink = null;
    this.sink = this.entry(header);
    this.startData(header.size, 'data');
  }

  private startData(size: number, state: 'data' | 'meta'): void {
    this.remaining = size;
    this.pad = padding(size);
    this.state = state;
    if (size === 0) this.entryDone();
  }

  private entryDone(): void {
    if (this.state === 'meta') {
      const meta = this.meta!;
      const body = Buffer.concat(meta.parts);
      if (meta.kind === 'x') this.pax = parsePax(body);
      else if (meta.kind === 'L') this.longName = cString(body);
      else if (meta.kind === 'K') this.longLink = cString(body);
      this.meta = null;
    } else {
      this.sink?.end();
      this.sink = null;
    }
    this.state = this.pad > 0 ? 'pad' : 'header';
  }
}

/** A NUL-terminated field as a byte string. */
function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('latin1', 0, nul === -1 ? b.length : nul);
}

const text = (b: Buffer, at: number, width: number) => cString(b.subarray(at, at + width));

/** A numeric field: octal (spaces and NULs around it), or base-256 when its top bit is set. */
function number(b: Buffer, at: number, width: number): number {
  if (b[at]! & 0x80) {
    let n = b[at]! & 0x7f;
    for (let i = 1; i < width; i++) n = n * 256 + b[at + i]!;
    return n;
  }
  const s = b
    .toString('latin1', at, at + width)
    .replace(/[\0 ]+$/, '')
    .replace(/^[\0 ]+/, '');
  return s === '' ? 0 : parseInt(s, 8);
}

/** PAX records, keys and values as byte strings (`hdrcharset` or not: bytes are bytes). */
function parsePax(b: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < b.length) {
    const space = b.indexOf(0x20, at);
    const len = parseInt(b.toString('latin1', at, space), 10);
    if (space === -1 || !Number.isFinite(len) || len <= 0) break;
    const record = b.toString('latin1', space + 1, at + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}
