// Reading one secret's value, bounded. A secret is a small file (a key, a token): Docker caps
// swarm secrets at 500 KiB, and so do we, so `fromFile: /dev/zero` or a FIFO can neither hang a
// run nor fill its memory. Nothing here ever puts the value into a message.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Docker's limit for one secret (moby's `MaxSecretSize`, 500 KiB). */
export const MAX_SECRET_BYTES = 500 * 1024;

/** Why a secret could not be used; `unreadable` is the only kind `diff` may treat as unknown. */
export interface SecretProblem {
  kind: 'unreadable' | 'refused';
  message: string;
  hint: string;
}

const LIMIT_TEXT = `${MAX_SECRET_BYTES / 1024} KiB`;

export function readSecretFromEnv(variable: string, processEnv: NodeJS.ProcessEnv): Buffer | SecretProblem {
  const v = processEnv[variable];
  if (v === undefined) {
    return { kind: 'unreadable', message: `environment variable ${variable} is not set`, hint: `export ${variable}=... before running sandboxshift (the value is never printed)` };
  }
  // Node decodes the environment as UTF-8 and puts U+FFFD for each byte that is not: the value
  // as set is lost, and copying U+FFFD in its place would change the secret silently.
  if (v.includes('\uFFFD')) {
    return {
      kind: 'refused',
      message: `environment variable ${variable} is not valid UTF-8 (it holds U+FFFD, which stands in for bytes that could not be decoded, so the value as set is lost)`,
      hint: 'a binary value cannot come through a variable: write it to a file and use fromFile: PATH instead (the value is never printed)',
    };
  }
  if (Buffer.byteLength(v) > MAX_SECRET_BYTES) {
    return {
      kind: 'refused',
      message: `environment variable ${variable} holds more than ${LIMIT_TEXT}, the limit for one secret`,
      hint: `a secret is a key or a token; put larger data in the workspace (workspace.from) instead`,
    };
  }
  return Buffer.from(v);
}

/**
 * Reads a regular file of at most MAX_SECRET_BYTES. Opened without blocking (a FIFO with no
 * writer would wait forever) and checked on the open descriptor, so what is checked is what is read.
 */
export function readSecretFile(path: string, shown: string): Buffer | SecretProblem {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { kind: 'unreadable', message: `cannot read ${shown} (${code})`, hint: 'create the file or fix the path; it is read relative to the config file' };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      return {
        kind: 'refused',
        message: `${shown} is ${fileKind(stat)}, not a regular file; a secret is read from a file of at most ${LIMIT_TEXT}`,
        hint: 'point fromFile at a regular file holding the secret',
      };
    }
    // One byte past the limit tells "too big" apart from "exactly at the limit", whatever stat said.
    const buffer = Buffer.alloc(MAX_SECRET_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === buffer.length) break;
    }
    if (length > MAX_SECRET_BYTES) {
      return {
        kind: 'refused',
        message: `${shown} is larger than ${LIMIT_TEXT}, the limit for one secret`,
        hint: 'a secret is a key or a token; put larger data in the workspace (workspace.from) instead',
      };
    }
    return Buffer.from(buffer.subarray(0, length));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { kind: 'unreadable', message: `cannot read ${shown} (${code})`, hint: 'check that the file is readable by you' };
  } finally {
    closeSync(fd);
  }
}

function fileKind(stat: import('node:fs').Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a named pipe (FIFO)';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}
