// Reading the config file itself, for everything that reads it: the loader (load.ts), the
// checked-config cache (cache-key.ts, and through it the short paths of exec and cp) and the
// project peek (peek.ts). The file must be a regular file (symlinks followed) of at most
// MAX_CONFIG_BYTES, so `-c /dev/zero` cannot fill memory; it is opened without blocking and
// checked on the open descriptor, so a FIFO cannot hang a run and what is checked is what is
// read. Its bytes must be UTF-8: a byte that is not would otherwise become U+FFFD, silently, in
// an env value or a command. Only node:fs and node:buffer, so the short paths stay cheap.
import { isUtf8 } from 'node:buffer';
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';

/** The largest config file read: a sandboxshift.yaml of 1,000 environments is well under 1 MiB. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** The limit as messages write it. */
export const MAX_CONFIG_TEXT = `${MAX_CONFIG_BYTES / (1024 * 1024)} MiB`;

/** Why the file could not be used; `error` is the system's, for `unreadable`. */
export type ConfigFileProblem =
  | { kind: 'missing' }
  | { kind: 'folder' }
  | { kind: 'not-a-file'; what: string }
  | { kind: 'too-large'; size: number | null }
  | { kind: 'not-utf8'; line: number; col: number; offset: number; bytes: string }
  | { kind: 'unreadable'; error: unknown };

export type ConfigFileRead = { text: string; problem?: undefined } | { text?: undefined; problem: ConfigFileProblem };

export function readConfigFile(file: string): ConfigFileRead {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    return { problem: openProblem(file, error) };
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) return { problem: { kind: 'folder' } };
    if (!stat.isFile()) return { problem: { kind: 'not-a-file', what: fileKind(stat) } };
    if (stat.size > MAX_CONFIG_BYTES) return { problem: { kind: 'too-large', size: stat.size } };
    // Read to the end, but never past one byte over the limit (a file may grow, or say size 0 as /proc's do).
    let buffer = Buffer.allocUnsafe(Math.min(Math.max(stat.size, 8191), MAX_CONFIG_BYTES) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > MAX_CONFIG_BYTES) return { problem: { kind: 'too-large', size: null } };
        const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, MAX_CONFIG_BYTES + 1));
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return decodeConfigBytes(buffer.subarray(0, length));
  } catch (error) {
    return { problem: { kind: 'unreadable', error } };
  } finally {
    closeSync(fd);
  }
}

/** The text of config bytes (a file's, or a version's from git), or where they are not UTF-8. */
export function decodeConfigBytes(bytes: Buffer): ConfigFileRead {
  return isUtf8(bytes) ? { text: bytes.toString('utf8') } : { problem: notUtf8(bytes) };
}

function openProblem(file: string, error: unknown): ConfigFileProblem {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return { kind: 'missing' };
  if (code === 'EISDIR') return { kind: 'folder' };
  // A socket cannot be opened at all (ENXIO); say what it is rather than the bare code.
  if (code === 'ENXIO') {
    try {
      const stat = statSync(file);
      if (!stat.isFile()) return { kind: 'not-a-file', what: fileKind(stat) };
    } catch {
      // gone in between: the open's error says enough
    }
  }
  return { kind: 'unreadable', error };
}

function fileKind(stat: Stats): string {
  if (stat.isFIFO()) return 'a named pipe (FIFO)';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Where the first byte sequence that is not UTF-8 starts: line and column as the YAML positions count them (UTF-16 units). */
function notUtf8(bytes: Buffer): ConfigFileProblem {
  const { offset, length } = firstInvalidUtf8(bytes);
  const lineStart = bytes.lastIndexOf(0x0a, offset - 1) + 1;
  let line = 1;
  for (let i = bytes.indexOf(0x0a); i !== -1 && i < offset; i = bytes.indexOf(0x0a, i + 1)) line++;
  const col = bytes.toString('utf8', lineStart, offset).length + 1;
  const shown = [...bytes.subarray(offset, offset + length)].map((b) => `0x${b.toString(16).padStart(2, '0')}`);
  return { kind: 'not-utf8', line, col, offset, bytes: shown.join(' ') };
}

/**
 * The first ill-formed sequence (RFC 3629: no overlong forms, surrogates or code points past
 * U+10FFFF): its offset, and its length (a lead byte and the continuation bytes that were fine
 * before one was not, or the end). At the end of the input when there is none.
 */
export function firstInvalidUtf8(bytes: Uint8Array): { offset: number; length: number } {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) low = 0xa0;
      if (b === 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) low = 0x90;
      if (b === 0xf4) high = 0x8f;
    } else return { offset: i, length: 1 };
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? low : 0x80) || c > (k === 1 ? high : 0xbf)) return { offset: i, length: k };
    }
    i += need + 1;
  }
  return { offset: bytes.length, length: 0 };
}
