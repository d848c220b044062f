// Who holds something on the engine (a lock, a copy's pause): a host, a pid and the pid's start
// time, recorded as labels. A holder on this host that is gone (no such pid, or the pid now
// belongs to a process that started at another time) can be judged from here; another host's
// never is; and how long to wait for one. No engine calls and no node:crypto: cp's short path loads it.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';

export interface Holder {
  holder: string;
  pid: number;
  /** The holder's start time as the kernel counts it (/proc/PID/stat), when it could be read. */
  pidStarted: string | null;
}

/** This process, as a holder. */
export function thisHolder(): Holder {
  return { holder: hostname(), pid: process.pid, pidStarted: processStartTime(process.pid) };
}

/**
 * Gone: it ran on this host and its process is no more. A pid that answers is still gone when it
 * started at another time than the holder did (the pid was reused). Another host's holder is
 * never judged from here.
 */
export function holderGone(h: Holder, host = hostname()): boolean {
  if (h.holder !== host || !Number.isInteger(h.pid) || h.pid <= 0) return false;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return true;
    // EPERM: the pid exists but is another user's; its start time still tells whether it is the holder.
    if (code !== 'EPERM') throw err;
  }
  const started = processStartTime(h.pid);
  return h.pidStarted !== null && started !== null && started !== h.pidStarted;
}

/** Field 22 of /proc/PID/stat (clock ticks after boot); null where there is no /proc. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null; // no /proc (macOS), or the process just ended: the pid check decides
  }
}

/** How long to wait for a holder: the variable `name` in seconds, or `fallbackSeconds`; anything else is refused with what to write. */
export function waitSeconds(name: string, fallbackSeconds: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined) return fallbackSeconds * 1000;
  if (!/^\s*\d+(\.\d+)?\s*$/.test(raw)) {
    throw new DiagnosticsError([errorDiag(`${name} must be a number of seconds, got '${raw}'`, { hint: `e.g. ${name}=${fallbackSeconds} (the default), or unset it` })]);
  }
  return Number(raw) * 1000;
}
