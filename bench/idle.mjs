// Idle policies (BENCH_ONLY=idle):
//  - idle-stop lateness: N environments (BENCH_IDLE_ENVS, default 10) with `stopAfter: 5s` under
//    one `sandboxshift watch`; for each, the container's FinishedAt minus the deadline the watcher
//    logged (its last activity + 5 s), and the watcher's own decision lateness (lateMs). Target:
//    median under 3 s, never over 10 s, never early (negative).
//  - the cost of idle polling: M environments (BENCH_IDLE_POLL_ENVS, default 20) kept busy by a
//    heartbeat file with `stopAfter: 10s`, so each is always within 10 s of its deadline and
//    sampled every 2 s (the worst case); the watcher's CPU time over 30 s, as percent of one core.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stats } from './destroy.mjs';
import { commandEnv } from './command-env.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const WORK = fileURLToPath(new URL('./work/', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function projectDir(name, envs) {
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, `${name}-`));
  writeFileSync(
    join(dir, 'sandboxshift.yaml'),
    `version: 1\nproject: ${name}\nimages:\n  busybox: { ref: sandboxshift/busybox:test }\ndefaults:\n  image: busybox\n  resources: { cpus: 0.1, memory: 16m, pids: 16 }\nenvironments:\n${envs}\n`,
  );
  return dir;
}

function watch(dir) {
  const child = spawn(process.execPath, [CLI, 'watch', '--resync', '1h', '--log-format', 'json'], {
    cwd: dir,
    env: commandEnv(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events = [];
  createInterface({ input: child.stdout }).on('line', (l) => events.push(JSON.parse(l)));
  return { child, events, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) };
}

async function until(what, ok, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`bench idle: ${what} not reached in ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** utime + stime of a process, in ms. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}

export async function benchIdle({ docker, purge }) {
  const n = Number(process.env.BENCH_IDLE_ENVS ?? 10);
  const m = Number(process.env.BENCH_IDLE_POLL_ENVS ?? 20);
  const out = {};

  const name = `bench-idle-${process.pid}`;
  const envs = Array.from({ length: n }, (_, i) => `  e${i}: { idle: { stopAfter: 5s }, command: "trap 'exit 0' TERM; while true; do sleep 1 & wait; done" }`).join('\n');
  const dir = projectDir(name, envs);
  const w = watch(dir);
  try {
    await until('every environment idle-stopped', () => w.events.filter((e) => e.event === 'idle-stop').length >= n, 180_000);
    const stops = w.events.filter((e) => e.event === 'idle-stop');
    const late = [];
    for (const s of stops) {
      const info = await docker.getContainer(`ss.${name}.${s.environment}`).inspect();
      late.push(Date.parse(info.State.FinishedAt) - Date.parse(s.deadline));
    }
    out.lateness_ms = { ...stats(late), environments: n, stop_after: '5s', early: late.filter((x) => x < 0).length };
    out.decision_lateness_ms = stats(stops.map((s) => s.lateMs));
  } finally {
    await w.stop();
    await purge(name);
    rmSync(dir, { recursive: true, force: true });
  }

  const pname = `bench-idlepoll-${process.pid}`;
  const penvs = Array.from({ length: m }, (_, i) => `  p${i}: { idle: { stopAfter: 10s }, command: "while true; do touch /workspace/.sandboxshift-heartbeat; sleep 3; done" }`).join('\n');
  const pdir = projectDir(pname, penvs);
  const pw = watch(pdir);
  try {
    await until('first apply', () => pw.events.some((e) => e.event === 'applied'), 300_000);
    await sleep(5_000);
    const a = cpuMs(pw.child.pid);
    const t0 = Date.now();
    await sleep(30_000);
    const used = cpuMs(pw.child.pid) - a;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pw.child.pid}/status`, 'utf8'))[1]) / 1024;
    out.polling = {
      environments: m,
      sampled_every_s: 2,
      cpu_percent_of_one_core: Math.round((used / (Date.now() - t0)) * 1000) / 10,
      rss_mb: Math.round(rss),
      idle_stops: pw.events.filter((e) => e.event === 'idle-stop').length,
    };
  } finally {
    await pw.stop();
    await purge(pname);
    rmSync(pdir, { recursive: true, force: true });
  }
  return out;
}
