// A `sandboxshift watch` child process for end-to-end tests: its stdout lines, waited for.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI } from './harness.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class WatchProcess {
  readonly lines: string[] = [];
  stderr = '';
  private readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(cwd: string, args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, 'watch', '--resync', '1h', ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', CI: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (l) => this.lines.push(l));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  mark(): number {
    return this.lines.length;
  }

  /** The index of the first line from `from` on that contains `text` (or matches it). */
  async waitFor(text: string | RegExp, from = 0, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.lines.length; i++) {
        const line = this.lines[i]!;
        if (typeof text === 'string' ? line.includes(text) : text.test(line)) return i;
      }
      if (Date.now() > deadline) throw new Error(`no line ${String(text)} after line ${from} in ${timeoutMs} ms; got:\n${this.lines.slice(from).join('\n')}\nstderr: ${this.stderr}`);
      await sleep(20);
    }
  }

  /** SIGTERM, then the exit code and how long the exit took. */
  async stop(): Promise<{ code: number | null; ms: number }> {
    const started = Date.now();
    this.child.kill('SIGTERM');
    const code = await this.exited;
    return { code, ms: Date.now() - started };
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}
