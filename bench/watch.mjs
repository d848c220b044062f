// BENCH_ONLY=watch: how fast `sandboxshift watch` converges, as medians of BENCH_WATCH_RUNS (default 7)
// with min and max, alongside the container's own create+start time (the watcher's change-done
// elapsedMs for that environment), so what the watcher adds is visible:
//  - config edit → converged: write the config with one more environment; until the watcher's
//    `applied` line for it (target: under 1 s plus the container's start);
//  - git push → converged with the webhook: a teammate's clone commits and pushes to a bare
//    repository, then a signed push webhook is POSTed; until the watcher's `git-applied` line
//    (target: under 1.5 s plus the start). --interval is 1h, so only the webhook explains it.
//  - drift repair: `docker rm -f` and `docker stop` of an environment container behind the
//    watcher's back; until the container runs again (polled) and the watcher's `applied` line,
//    timed from the docker command's start and from its return (target: under 1 s plus the start);
//  - a watcher at 1,000 environments (BENCH_WATCH_SCALE_ENVS; 0 skips it), applied with the CLI
//    first (parallelism 8): steady state over BENCH_WATCH_STEADY_S (default 60) s with the default
//    --resync 5m, CPU % of one core per 10 s window (/proc/PID/stat utime+stime) and RSS
//    (/proc/PID/status VmRSS) sampled every second (targets: CPU under 2 %, RSS under 150 MB); then
//    a watcher with --resync 3s, and the duration of each full resync from its JSON log (`no-changes`
//    elapsedMs: lock, observe, plan, lock given back; target under 1.5 s). Destroyed with the CLI,
//    then purged by label.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stats } from './destroy.mjs';
import { commandEnv } from './command-env.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const WORK = fileURLToPath(new URL('./work/', import.meta.url));
const GIT_ENV = { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.invalid' };
const git = (cwd, ...args) => execFileSync('git', args, { cwd, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8' }).trim();
const SECRET = 'bench-webhook-secret';

function configText(project, count) {
  const envs = Array.from({ length: count }, (_, i) => `  w-${i}: {}`).join('\n');
  return `version: 1\nproject: ${project}\nimages:\n  busybox: { ref: sandboxshift/busybox:test }\ndefaults:\n  image: busybox\n  resources: { cpus: 0.1, memory: 16m, pids: 16 }\nenvironments:\n${envs}\n`;
}

async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** The watcher as a child process; `next(event, pred)` resolves at its next JSON log line of that event. */
function startWatcher(dir, args, env = {}) {
  const child = spawn(process.execPath, [CLI, 'watch', '--resync', '1h', '--log-format', 'json', ...args], {
    cwd: dir,
    env: commandEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const waiters = [];
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  createInterface({ input: child.stdout }).on('line', (line) => {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      return; // not a log line
    }
    const at = performance.now();
    for (const w of [...waiters]) if (w.event === e.event && w.pred(e)) waiters.splice(waiters.indexOf(w), 1) && w.resolve({ ...e, at });
  });
  return {
    next: (event, pred = () => true, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`watch: no ${event} in ${timeoutMs} ms\n${stderr}`)), timeoutMs);
        waiters.push({ event, pred, resolve: (v) => (clearTimeout(timer), resolve(v)) });
      }),
    pid: child.pid,
    stop: () => new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : (child.once('exit', r), child.kill('SIGTERM')))),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dockerCmd = (...args) =>
  new Promise((resolve, reject) =>
    execFile('docker', args, { encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(`docker ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout.trim()))),
  );

/** utime + stime of a process, in ms (USER_HZ is 100 on Linux). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Resident set size of a process, in MB. */
function rssMb(pid) {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  return kb / 1024;
}

/** The container's id once it runs again as another container than `notId` (rm -f), or at all after `notStartedAt` (stop). */
async function runningAgain(name, { notId = null, notStartedAt = null }, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await dockerCmd('inspect', '-f', '{{.Id}} {{.State.Running}} {{.State.StartedAt}}', name).catch(() => '');
    const [id, running, startedAt] = out.split(' ');
    if (running === 'true' && id !== notId && startedAt !== notStartedAt) return { at: performance.now(), id, startedAt };
    if (Date.now() > deadline) throw new Error(`bench watch: ${name} not running again in ${timeoutMs} ms (${out || 'absent'})`);
    await sleep(10);
  }
}

const round = (s) => ({ median: Math.round(s.median), min: Math.round(s.min), max: Math.round(s.max) });

export async function benchWatch({ purge, runs = Number(process.env.BENCH_WATCH_RUNS ?? 7) }) {
  mkdirSync(WORK, { recursive: true });
  const results = {};

  // 1. config edit → converged
  {
    const name = `bench-watch-edit-${process.pid}`;
    const dir = mkdtempSync(join(WORK, 'watch-edit-'));
    const file = join(dir, 'sandboxshift.yaml');
    writeFileSync(file, configText(name, 1));
    const w = startWatcher(dir, []);
    try {
      await w.next('applied');
      const total = [];
      const start = [];
      for (let i = 1; i <= runs; i++) {
        const done = w.next('applied');
        const change = w.next('change-done', (e) => e.address === `environment.w-${i}`);
        const t0 = performance.now();
        writeFileSync(file, configText(name, i + 1));
        const [d, c] = await Promise.all([done, change]);
        total.push(d.at - t0);
        start.push(c.elapsedMs);
      }
      const t = stats(total);
      const s = stats(start);
      results.config_edit = { runs, converged_ms: round(t), container_create_start_ms: round(s), watcher_overhead_ms_median: Math.round(t.median - s.median), target: 'under 1000 ms plus the start' };
    } finally {
      await w.stop();
      await purge(name);
      rmSync(dir, { recursive: true, force: true });
    }
  }

  // 2. git push → converged with the webhook
  {
    const name = `bench-watch-git-${process.pid}`;
    const tmp = mkdtempSync(join(WORK, 'watch-git-'));
    const dir = join(tmp, 'checkout');
    const remote = join(tmp, 'remote.git');
    const mate = join(tmp, 'mate');
    mkdirSync(dir);
    writeFileSync(join(dir, 'sandboxshift.yaml'), configText(name, 1));
    git(tmp, 'init', '-q', '--bare', '-b', 'main', remote);
    git(dir, 'init', '-q', '-b', 'main');
    git(dir, 'add', 'sandboxshift.yaml');
    git(dir, 'commit', '-qm', 'first');
    git(dir, 'remote', 'add', 'origin', remote);
    git(dir, 'push', '-q', '-u', 'origin', 'main');
    git(tmp, 'clone', '-q', remote, mate);
    const port = await freePort();
    const w = startWatcher(dir, ['--git', '--interval', '1h', '--listen', `127.0.0.1:${port}`, '--webhook-secret-env', 'BENCH_HOOK'], { BENCH_HOOK: SECRET });
    try {
      await w.next('git-applied');
      const total = [];
      const start = [];
      const pushes = [];
      for (let i = 1; i <= runs; i++) {
        writeFileSync(join(mate, 'sandboxshift.yaml'), configText(name, i + 1));
        const p0 = performance.now();
        git(mate, 'commit', '-qam', `add w-${i}`);
        git(mate, 'push', '-q', 'origin', 'main');
        const commit = git(mate, 'rev-parse', 'HEAD');
        pushes.push(performance.now() - p0);
        const done = w.next('git-applied', (e) => e.commit === commit);
        const change = w.next('change-done', (e) => e.address === `environment.w-${i}`);
        const body = JSON.stringify({ ref: 'refs/heads/main', after: commit });
        const t0 = performance.now();
        const res = await fetch(`http://127.0.0.1:${port}/webhook`, {
          method: 'POST',
          body,
          headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` },
        });
        if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
        const [d, c] = await Promise.all([done, change]);
        total.push(d.at - t0);
        start.push(c.elapsedMs);
      }
      const t = stats(total);
      const s = stats(start);
      results.git_push_webhook = {
        runs,
        converged_ms: round(t),
        container_create_start_ms: round(s),
        watcher_overhead_ms_median: Math.round(t.median - s.median),
        commit_and_push_ms: round(stats(pushes)),
        target: 'under 1500 ms plus the start',
      };
    } finally {
      await w.stop();
      await purge(name);
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  // 3. drift repair: docker rm -f and docker stop → running again
  {
    const name = `bench-watch-drift-${process.pid}`;
    const dir = mkdtempSync(join(WORK, 'watch-drift-'));
    writeFileSync(join(dir, 'sandboxshift.yaml'), configText(name, 1));
    const w = startWatcher(dir, []);
    const container = `ss.${name}.w-0`;
    try {
      await w.next('applied');
      for (const [kind, args, changeKind] of [
        ['rm_f', ['rm', '-f', container], 'create'],
        ['stop', ['stop', container], 'start'],
      ]) {
        const fromCall = [];
        const fromReturn = [];
        const callMs = [];
        const start = [];
        for (let i = 0; i < runs; i++) {
          const before = await runningAgain(container, {});
          await sleep(500); // the last repair's own events have passed
          const done = w.next('applied');
          const change = w.next('change-done', (e) => e.address === 'environment.w-0' && e.kind === changeKind);
          const t0 = performance.now();
          await dockerCmd(...args);
          const t1 = performance.now();
          const back = await runningAgain(container, kind === 'rm_f' ? { notId: before.id } : { notStartedAt: before.startedAt });
          const [, c] = await Promise.all([done, change]);
          fromCall.push(back.at - t0);
          fromReturn.push(back.at - t1);
          callMs.push(t1 - t0);
          start.push(c.elapsedMs);
        }
        const t = stats(fromCall);
        const s = stats(start);
        results[`drift_${kind}`] = {
          runs,
          running_again_ms_from_docker_call: round(t),
          running_again_ms_from_docker_return: round(stats(fromReturn)),
          docker_command_ms: round(stats(callMs)),
          container_repair_ms: round(s),
          watcher_overhead_ms_median: Math.round(stats(fromReturn).median - s.median),
          target: 'under 1000 ms plus the start',
        };
        console.log(`watch: drift ${kind}`, JSON.stringify(results[`drift_${kind}`]));
      }
    } finally {
      await w.stop();
      await purge(name);
      rmSync(dir, { recursive: true, force: true });
    }
  }

  // 4. a watcher at 1,000 environments
  const scaleN = Number(process.env.BENCH_WATCH_SCALE_ENVS ?? 1000);
  if (scaleN > 0) results.scale = await benchScale({ purge, n: scaleN, runs });
  return results;
}

async function benchScale({ purge, n, runs }) {
  const name = `bench-watch-scale-${process.pid}`;
  const dir = mkdtempSync(join(WORK, 'watch-scale-'));
  writeFileSync(join(dir, 'sandboxshift.yaml'), configText(name, n));
  const env = commandEnv();
  const steadyS = Number(process.env.BENCH_WATCH_STEADY_S ?? 60);
  const out = { environments: n };
  try {
    console.log(`watch: applying ${n} environments first (this takes a few minutes)...`);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [CLI, 'apply', '--auto-approve', '--parallelism', '8'], { cwd: dir, env, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 20 * 60_000 });
    if (r.status !== 0) throw new Error(`apply of ${n} failed (${r.status}): ${r.stderr}\n${r.stdout.slice(-2000)}`);
    out.apply_all_ms = Math.round(performance.now() - t0);

    // Steady state: the default resync (5m) does not come within the window.
    {
      const w = startWatcher(dir, ['--resync', '5m'], process.env.BENCH_WATCH_CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_WATCH_CPU_PROF}` } : {});
      try {
        const first = await w.next('no-changes', () => true, 120_000);
        out.first_reconcile_ms = first.elapsedMs;
        await sleep(5_000);
        const windows = [];
        const rss = [];
        let c0 = cpuMs(w.pid);
        let t = performance.now();
        for (let s = 1; s <= steadyS; s++) {
          await sleep(1_000);
          rss.push(rssMb(w.pid));
          if (s % 10 === 0) {
            const c1 = cpuMs(w.pid);
            const t1 = performance.now();
            windows.push(((c1 - c0) / (t1 - t)) * 100);
            c0 = c1;
            t = t1;
          }
        }
        const cpu = stats(windows);
        const mem = stats(rss);
        out.steady = {
          seconds: steadyS,
          cpu_percent_of_one_core_per_10s: { median: +cpu.median.toFixed(2), min: +cpu.min.toFixed(2), max: +cpu.max.toFixed(2) },
          rss_mb: { median: Math.round(mem.median), min: Math.round(mem.min), max: Math.round(mem.max) },
          targets: 'CPU under 2 % of one core, RSS under 150 MB',
        };
        console.log('watch: steady state at scale', JSON.stringify(out.steady));
      } finally {
        await w.stop();
      }
    }

    // Full resyncs: --resync 3s, the first (start) reconcile not counted.
    {
      const w = startWatcher(dir, ['--resync', '3s']);
      try {
        await w.next('no-changes', () => true, 120_000);
        const ms = [];
        const rss = [];
        for (let i = 0; i < runs; i++) {
          const e = await w.next('no-changes', () => true, 60_000);
          ms.push(e.elapsedMs);
          rss.push(rssMb(w.pid));
        }
        out.full_resync_ms = { ...round(stats(ms)), runs, target: 'under 1500 ms' };
        out.rss_mb_after_resyncs = round(stats(rss));
        console.log('watch: full resync at scale', JSON.stringify(out.full_resync_ms));
      } finally {
        await w.stop();
      }
    }
  } finally {
    const t0 = performance.now();
    const d = spawnSync(process.execPath, [CLI, 'destroy', '--auto-approve', '--purge-volumes', '--parallelism', '8'], { cwd: dir, env, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 20 * 60_000 });
    if (d.status !== 0) console.error(`destroy of ${n} failed (${d.status}): ${d.stderr}`);
    out.destroy_all_ms = Math.round(performance.now() - t0);
    await purge(name);
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
