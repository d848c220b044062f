// The CLI on a real terminal: a tmux pane of our own (its server's socket in a folder of our
// own, whatever the caller's tmux), as a person runs it.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './harness.js';

function tmux(socket: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('tmux', ['-S', socket, ...args], (err, stdout, stderr) => (err ? reject(new Error(`tmux ${args[0]}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;

/**
 * The CLI in a 120x40 tmux pane: stdin and stdout a terminal, no CI variables. The pane stays
 * after the command ends and shows its exit code as `[exit N]`.
 */
export async function inTerminal(args: string[], cwd: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ss-tmux-'));
  const socket = join(dir, 'socket');
  const vars = Object.entries(env).map(([k, v]) => quote(`${k}=${v}`));
  const command = `env -u CI -u CONTINUOUS_INTEGRATION TERM=xterm-256color NO_COLOR=1 ${[...vars, ...[process.execPath, CLI, ...args].map(quote)].join(' ')}; echo "[exit $?]"; sleep 600`;
  await tmux(socket, ['new-session', '-d', '-s', 'main', '-x', '120', '-y', '40', '-c', cwd, command]);
  const screen = async () =>
    (await tmux(socket, ['capture-pane', '-p', '-t', 'main']))
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n');
  return {
    screen,
    keys: (...keys: string[]) => tmux(socket, ['send-keys', '-t', 'main', ...keys]),
    /** Resizes the window, as a person dragging the terminal's corner. */
    resize: (columns: number, rows: number) => tmux(socket, ['resize-window', '-t', 'main', '-x', String(columns), '-y', String(rows)]),
    /** Waits (up to 90 s) until the screen contains `text` (or matches it), and returns the screen. */
    async waitFor(text: string | RegExp): Promise<string> {
      const deadline = Date.now() + 90_000;
      for (;;) {
        const now = await screen();
        if (typeof text === 'string' ? now.includes(text) : text.test(now)) return now;
        if (Date.now() > deadline) throw new Error(`the terminal never showed "${String(text)}"; it shows:\n${now}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async close() {
      await tmux(socket, ['kill-server']).catch(() => undefined); // already gone: nothing to stop
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
