// One exec session in a running container, attached the way `docker exec` attaches: the
// engine's hijacked connection carries stdin one way and the output the other. Without a TTY
// the output comes in frames that FrameSplitter takes apart into stdout and stderr; with one it
// is the terminal's raw bytes. The exit code is the exec's, read after the output ends.
import type { Readable, Writable } from 'node:stream';
import type { Socket } from 'node:net';
import { withEngine } from './client.js';
import type { ExecApi } from './exec-api.js';
import { FrameSplitter } from './exec-frames.js';

export interface ExecStreams {
  /** Forwarded to the command when given; its end closes the command's stdin. */
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
}

export interface ExecSessionRequest {
  containerId: string;
  /** The full argv run in the container. */
  argv: string[];
  workingDir: string;
  /** A PTY: output is not split, and the size follows `size()` and `onResize`. */
  tty?: { size: () => { rows: number; columns: number }; onResize: (resize: () => void) => () => void };
  /** Extra variables (never a secret: Env shows in the engine's exec inspect). */
  env?: string[];
}

const NEWLINE = 0x0a;
/** ^D, a terminal's end of file (VEOF). */
const EOF_CHAR = 0x04;

/** 128 + SIGPIPE, what a shell reports for a command whose reader went away. */
const EXIT_SIGPIPE = 141;

/** Runs the command to its end and returns its exit code. */
export async function runExecSession(api: ExecApi, request: ExecSessionRequest, streams: ExecStreams): Promise<number> {
  const tty = request.tty;
  const execId = await withEngine(() =>
    api.create(request.containerId, {
      Cmd: request.argv,
      AttachStdin: Boolean(streams.stdin),
      AttachStdout: true,
      AttachStderr: true,
      Tty: Boolean(tty),
      WorkingDir: request.workingDir,
      ...(request.env?.length ? { Env: request.env } : {}),
    }),
  );
  const socket = await withEngine(() => api.start(execId, Boolean(tty)));
  // Whoever reads our output went away (`exec ENV yes | head -1`): stop as a local command
  // would, by SIGPIPE. Closing the connection closes the command's output, so it gets its own.
  let outputClosed = false;
  const onOutputError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    outputClosed = true;
    socket.destroy();
  };
  streams.stdout.on('error', onOutputError);
  streams.stderr.on('error', onOutputError);
  const ended = new Promise<void>((resolve, reject) => {
    socket.once('end', resolve);
    socket.once('close', () => resolve());
    socket.once('error', (err) => (outputClosed ? resolve() : reject(err)));
  });
  let stopResizing = () => {};
  if (tty) {
    const resize = () => {
      const { rows, columns } = tty.size();
      // A resize racing the command's end finds no process: nothing to do.
      if (rows > 0 && columns > 0) api.resize(execId, rows, columns).catch(() => undefined);
    };
    resize();
    stopResizing = tty.onResize(resize);
    socket.on('data', (chunk: Buffer) => {
      if (!streams.stdout.write(chunk)) holdUntilDrained(socket, [streams.stdout]);
    });
  } else {
    const frames = new FrameSplitter(streams.stdout, streams.stderr);
    socket.on('data', (chunk: Buffer) => {
      if (!frames.push(chunk)) holdUntilDrained(socket, [streams.stdout, streams.stderr]);
    });
  }
  // The connection may come paused (raw-get.ts's upgrade hands it over so): reading starts now.
  socket.resume();
  const stdin = streams.stdin;
  let lastByte = NEWLINE;
  const forward = (chunk: Buffer) => {
    if (chunk.length > 0) lastByte = chunk[chunk.length - 1]!;
    if (!socket.write(chunk)) holdUntilDrained(stdin!, [socket]);
  };
  // End of input closes our half of the connection, and the engine closes the command's stdin.
  // Not with a PTY: there the engine closes the command's output too, at once (what it had not
  // yet sent is lost, `cat` never sees the end). A terminal's end of file is ^D instead: one
  // at the start of a line, two after a partial one (the first only hands the line over).
  const endInput = () => (tty ? socket.write(Buffer.from(lastByte === NEWLINE ? [EOF_CHAR] : [EOF_CHAR, EOF_CHAR])) : (socket as Socket).end());
  if (stdin) {
    stdin.on('data', forward);
    stdin.once('end', endInput);
  } else {
    endInput();
  }
  try {
    await ended;
  } finally {
    stopResizing();
    if (stdin) {
      stdin.off('data', forward);
      stdin.off('end', endInput);
    }
    streams.stdout.off('error', onOutputError);
    streams.stderr.off('error', onOutputError);
    socket.destroy();
  }
  return outputClosed ? EXIT_SIGPIPE : exitCode(api, execId);
}

/**
 * Backpressure, as a pipe has it: stops reading `source` until every one of `sinks` whose write
 * asked to wait has drained. Without it a slow reader of the output (`exec ENV cat big | slow`)
 * or a slow command under fast input kept all that was not yet taken in our memory. A sink that
 * fails instead (EPIPE) never drains: the session ends then, and nothing is read any more anyway.
 */
function holdUntilDrained(source: Readable, sinks: Writable[]): void {
  const waiting = sinks.filter((sink) => sink.writableNeedDrain);
  if (waiting.length === 0) return;
  source.pause();
  let left = waiting.length;
  for (const sink of waiting) {
    sink.once('drain', () => {
      if (--left === 0) source.resume();
    });
  }
}

/** The exit code once the engine has it (the output can end a moment before the exec does). */
async function exitCode(api: ExecApi, execId: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    const info = await api.inspect(execId);
    if (!info.Running && typeof info.ExitCode === 'number') return info.ExitCode;
    if (Date.now() > deadline) throw new Error(`exec ${execId} ended its output but the engine still shows it running after 30 s`);
    await new Promise((r) => setTimeout(r, wait));
  }
}
