// BENCH_ONLY=watch: how fast `sandboxshift watch` converges, as medians of BENCH_WATCH_RUNS (default 7)
// with min and max, alongside the container's own create+start time (the watcher's change-done
// elapsedMs for that environment), so what the watcher adds is visible:
//  - config edit → converged: write the config with one more environment; until the watcher's
//    `applied` line for it (target: under 1 s plus the container's start);
//  - git push → converged with the webhook: a teammate's clone commits and pushes to a bare
//    repository, then a signed push webhook is POSTed; until the watcher's `git-applied` line
//    (target: under 1.5 s plus the start). --interval is 1h, so only the webhook explains it.
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stats } from './destroy.mjs';

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
    env: { ...process.env, CI: 'true', NO_COLOR: '1', ...env },
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
    stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))),
  };
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
  return results;
}
