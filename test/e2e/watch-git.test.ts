// `watch --git` and `--listen` on the real engine with real git: a bare repository in a temp
// folder is the remote, the test project's folder is the watched clone, and a second clone
// pushes commits as a teammate (or a merged pull request) would.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/watch/webhook.js';
import { busyboxConfig, containerState, testProject, type TestProject } from './harness.js';
import { sleep, WatchProcess } from './watch-process.js';

const GIT_ENV = { GIT_AUTHOR_NAME: 'e2e', GIT_AUTHOR_EMAIL: 'e2e@example.invalid', GIT_COMMITTER_NAME: 'e2e', GIT_COMMITTER_EMAIL: 'e2e@example.invalid' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8' }).trim();
const envs = (...names: string[]) => names.map((n) => `  ${n}: {}\n`).join('');
const short = (c: string) => c.slice(0, 7);

/** The project folder as a clone of a new bare remote, plus a teammate's clone to push from. */
function gitProject(label: string, first: string): { p: TestProject; remote: string; mate: string; tmp: string; push(yaml: string, message: string): string } {
  const p = testProject(label, busyboxConfig(first));
  const tmp = mkdtempSync(join(tmpdir(), `ss-${label}-git-`));
  const remote = join(tmp, 'remote.git');
  git(tmp, 'init', '-q', '--bare', '-b', 'main', remote);
  git(p.dir, 'init', '-q', '-b', 'main');
  git(p.dir, 'add', 'sandboxshift.yaml');
  git(p.dir, 'commit', '-qm', 'first');
  git(p.dir, 'remote', 'add', 'origin', remote);
  git(p.dir, 'push', '-q', '-u', 'origin', 'main');
  const mate = join(tmp, 'mate');
  git(tmp, 'clone', '-q', remote, mate);
  return {
    p,
    remote,
    mate,
    tmp,
    push(yaml, message) {
      writeFileSync(join(mate, 'sandboxshift.yaml'), yaml.replaceAll('{{project}}', p.name));
      git(mate, 'commit', '-qam', message);
      git(mate, 'push', '-q', 'origin', 'main');
      return git(mate, 'rev-parse', 'HEAD');
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Prometheus text exposition: every sample line `name{labels} value`; returns name{labels} → value. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      if (line.startsWith('#')) expect(line).toMatch(/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?[0-9.e+]+|NaN|[+-]Inf)$/.exec(line);
    expect(m, `not a Prometheus sample line: ${line}`).not.toBeNull();
    samples.set(m![1]!, Number(m![2]));
  }
  return samples;
}

describe('watch --git by polling: fast-forward, invalid and diverged commits, dirty tree, status, metrics, resume', () => {
  let g: ReturnType<typeof gitProject>;
  let w: WatchProcess;
  let port: number;
  let first: string;
  let good: string;
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  beforeAll(async () => {
    g = gitProject('watchgit', envs('a'));
    first = git(g.p.dir, 'rev-parse', 'HEAD');
    port = await freePort();
    writeFileSync(join(g.tmp, 'hook-secret'), 'polling-secret\n');
    w = new WatchProcess(g.p.dir, ['--git', '--interval', '1s', '--listen', `127.0.0.1:${port}`, '--webhook-secret-file', join(g.tmp, 'hook-secret')]);
    await w.waitFor(`git: at ${short(first)}, applied `);
  });
  afterAll(async () => {
    if (w?.running) await w.stop();
    await g?.p.cleanup();
    if (g) rmSync(g.tmp, { recursive: true, force: true });
  });

  it('follows the upstream of the checked-out branch and records the first commit', async () => {
    const i = await w.waitFor('git: following origin/main into main at ');
    expect(w.lines[i]).toContain(`at ${short(first)} (`);
    expect(w.lines[i]).toContain('fetching every 1s');
    expect(await containerState(g.p.name, 'a')).toBe('running');
  });

  it('a pushed commit converges by polling, and status shows it from the engine', async () => {
    const m = w.mark();
    good = g.push(busyboxConfig(envs('a', 'b')), 'add b');
    await w.waitFor(new RegExp(`git: fast-forwarded ${short(first)}\\.\\.${short(good)} from origin/main \\(interval\\)$`), m, 30_000);
    await w.waitFor(/applied environment\.b: create \(new environment\)/, m);
    await w.waitFor(`git: at ${short(good)}, applied `, m);
    expect(await containerState(g.p.name, 'b')).toBe('running');
    expect(git(g.p.dir, 'rev-parse', 'HEAD')).toBe(good);
    const text = await g.p.run(['status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^at ${short(good)}, applied \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ by watch@${hostname().replace(/[.]/g, '\\.')}$`, 'm'));
    const json = JSON.parse((await g.p.run(['status', '--json'])).stdout) as { applied_commit: { commit: string; by: string; at: string } };
    expect(json.applied_commit.commit).toBe(good);
    expect(json.applied_commit.by).toBe(`watch@${hostname()}`);
  });

  it('a commit with an invalid config is reported with its id and diagnostics and changes nothing; a later good commit converges', async () => {
    const m = w.mark();
    const bad = g.push(busyboxConfig(`${envs('a', 'b')}  c: { resources: { cpus: nope } }\n`), 'broken');
    const i = await w.waitFor(`git: commit ${short(bad)} has an invalid config: not applied; the engine stays at ${short(good)} until a later good commit: `, m, 30_000);
    expect(w.lines[i]).toContain("expected a number, got 'nope' (at environments.c.resources.cpus)");
    await sleep(1_500);
    expect(w.lines.slice(m).filter((l) => /applied \d+ change|git: at /.test(l))).toEqual([]);
    expect(await containerState(g.p.name, 'c')).toBeNull();
    expect(git(g.p.dir, 'rev-parse', 'HEAD')).toBe(good); // the checkout stays at the last good commit too
    expect(JSON.parse((await g.p.run(['status', '--json'])).stdout).applied_commit.commit).toBe(good);
    const n = w.mark();
    good = g.push(busyboxConfig(envs('a', 'b', 'c')), 'fix c');
    await w.waitFor(`git: at ${short(good)}, applied `, n, 30_000);
    expect(await containerState(g.p.name, 'c')).toBe('running');
  });

  it('a local edit the fast-forward would overwrite is reported and kept; once it is gone the commit is taken', async () => {
    const local = `${busyboxConfig(envs('a', 'b', 'c')).replaceAll('{{project}}', g.p.name)}# a local note\n`;
    g.p.write(local);
    const m = w.mark();
    const next = g.push(busyboxConfig(envs('a', 'b', 'c', 'd')), 'add d');
    const i = await w.waitFor(`git: cannot fast-forward to ${short(next)}: local edits to sandboxshift.yaml in `, m, 30_000);
    expect(w.lines[i]).toContain('would be overwritten; nothing applied, the edits are kept. Commit, stash or discard them to resume');
    await sleep(1_500);
    expect(execFileSync('cat', [g.p.file], { encoding: 'utf8' })).toBe(local);
    expect(await containerState(g.p.name, 'd')).toBeNull();
    git(g.p.dir, 'checkout', '--', 'sandboxshift.yaml');
    await w.waitFor(`git: at ${short(next)}, applied `, i, 30_000);
    expect(await containerState(g.p.name, 'd')).toBe('running');
    good = next;
  });

  it('GET /healthz is 200 ok and GET /metrics is Prometheus text with the counters moving', async () => {
    const health = await fetch(url('/healthz'));
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');
    const before = parseMetrics(await (await fetch(url('/metrics'))).text());
    expect(before.get(`sandboxshift_applied_commit_info{commit="${good}"}`)).toBe(1);
    expect(before.get('sandboxshift_reconciles_total{outcome="applied"}')).toBeGreaterThanOrEqual(4);
    expect(before.get('sandboxshift_reconcile_duration_seconds_count')).toBeGreaterThanOrEqual(4);
    expect(before.get('sandboxshift_drift_repairs_total')).toBe(0);
    expect(before.get('sandboxshift_idle_stops_total{action="stop"}')).toBe(0);
    const m = w.mark();
    const next = g.push(busyboxConfig(envs('a', 'b', 'c', 'd', 'e')), 'add e');
    await w.waitFor(`git: at ${short(next)}, applied `, m, 30_000);
    good = next;
    const after = parseMetrics(await (await fetch(url('/metrics'))).text());
    expect(after.get('sandboxshift_reconciles_total{outcome="applied"}')).toBeGreaterThan(before.get('sandboxshift_reconciles_total{outcome="applied"}')!);
    expect(after.get(`sandboxshift_applied_commit_info{commit="${next}"}`)).toBe(1);
    expect([...after.keys()].filter((k) => k.startsWith('sandboxshift_applied_commit_info{'))).toEqual([`sandboxshift_applied_commit_info{commit="${next}"}`]);
  });

  it('a diverged remote (force-pushed) changes nothing and is reported with both commit ids', async () => {
    const m = w.mark();
    git(g.mate, 'reset', '-q', '--hard', first);
    writeFileSync(join(g.mate, 'sandboxshift.yaml'), busyboxConfig(envs('z')).replaceAll('{{project}}', g.p.name));
    git(g.mate, 'commit', '-qam', 'rewrite history');
    git(g.mate, 'push', '-q', '--force', 'origin', 'main');
    const forced = git(g.mate, 'rev-parse', 'HEAD');
    await w.waitFor(`git: origin/main at ${short(forced)} has diverged from the checkout at ${short(good)} (not a fast-forward): nothing applied`, m, 30_000);
    await sleep(2_500);
    expect(w.lines.slice(m).filter((l) => l.includes('has diverged'))).toHaveLength(1); // said once, not every poll
    expect(w.lines.slice(m).filter((l) => /applied \d+ change|git: at /.test(l))).toEqual([]);
    expect(git(g.p.dir, 'rev-parse', 'HEAD')).toBe(good);
    expect(await containerState(g.p.name, 'z')).toBeNull();
    expect(await containerState(g.p.name, 'e')).toBe('running');
  });

  it('a restarted watcher resumes from the commit recorded on the engine', async () => {
    expect((await w.stop()).code).toBe(0);
    git(g.mate, 'push', '-q', '--force', 'origin', `${good}:refs/heads/main`);
    w = new WatchProcess(g.p.dir, ['--git', 'origin/main', '--interval', '1s']);
    const i = await w.waitFor(`git: resuming from ${short(good)} (applied `);
    expect(w.lines[i]).toContain(`by watch@${hostname()}); the checkout is at ${short(good)}`);
    await w.waitFor('no changes (in sync)', 0);
  });
});

describe('watch --git with a signed webhook (--interval 1h: only the webhook can explain a fetch)', () => {
  let g: ReturnType<typeof gitProject>;
  let w: WatchProcess;
  let port: number;
  const SECRET = 'hook-secret-e2e-7f3a';
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(url('/webhook'), { method: 'POST', body, headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-1', ...headers } });
  beforeAll(async () => {
    g = gitProject('watchhook', envs('a'));
    port = await freePort();
    w = new WatchProcess(g.p.dir, ['--git', '--interval', '1h', '--listen', `127.0.0.1:${port}`, '--webhook-secret-env', 'SS_E2E_HOOK'], { SS_E2E_HOOK: SECRET });
    await w.waitFor(`listening on 127.0.0.1:${port}: POST /webhook, GET /healthz, GET /metrics`);
    await w.waitFor('git: at ');
  });
  afterAll(async () => {
    if (w?.running) await w.stop();
    await g?.p.cleanup();
    if (g) rmSync(g.tmp, { recursive: true, force: true });
  });

  it('an unsigned and a wrongly signed webhook are refused with 401 and fetch nothing', async () => {
    const m = w.mark();
    const pushed = g.push(busyboxConfig(envs('a', 'b')), 'add b');
    const body = JSON.stringify({ ref: 'refs/heads/main', after: pushed });
    const unsigned = await post(body);
    expect(unsigned.status).toBe(401);
    expect(await unsigned.text()).toBe('no X-Hub-Signature-256 header\n');
    const wrong = await post(body, { 'X-Hub-Signature-256': signBody(body, 'not-the-secret') });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toBe('X-Hub-Signature-256 does not match the webhook secret\n');
    await w.waitFor('webhook refused: no X-Hub-Signature-256 header (delivery d-1, ', m);
    await w.waitFor('webhook refused: X-Hub-Signature-256 does not match the webhook secret (delivery d-1, ', m);
    await sleep(1_000);
    expect(w.lines.slice(m).filter((l) => l.includes('fast-forwarded'))).toEqual([]);
    expect(w.lines.join('\n')).not.toContain(SECRET);
    expect(w.lines.join('\n')).not.toContain(pushed.slice(7)); // the body is never logged
    expect(await containerState(g.p.name, 'b')).toBeNull();
  });

  it('a signed webhook converges the pushed commit at once (push → converged measured)', async () => {
    const m = w.mark();
    const t0 = Date.now();
    const pushed = g.push(busyboxConfig(envs('a', 'b', 'c')), 'add c');
    const body = JSON.stringify({ ref: 'refs/heads/main', after: 'anything: the payload is trusted for nothing' });
    const res = await post(body, { 'X-Hub-Signature-256': signBody(body, SECRET) });
    expect(res.status).toBe(202);
    await w.waitFor('webhook: push delivery d-1 signed: fetching now', m);
    await w.waitFor(new RegExp(`git: fast-forwarded [0-9a-f]{7}\\.\\.${short(pushed)} from origin/main \\(webhook\\)$`), m, 10_000);
    await w.waitFor(`git: at ${short(pushed)}, applied `, m, 30_000);
    const ms = Date.now() - t0;
    console.log(`push → converged with a signed webhook: ${ms} ms (two environments created)`);
    expect(await containerState(g.p.name, 'b')).toBe('running');
    expect(await containerState(g.p.name, 'c')).toBe('running');
  });

  it('a body over 1 MiB gets 413 and is not read further', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    const res = await post(big, { 'X-Hub-Signature-256': signBody(big, SECRET) });
    expect(res.status).toBe(413);
    await w.waitFor('webhook refused: body over 1048576 bytes (delivery d-1)');
    const metrics = await (await fetch(url('/metrics'))).text();
    expect(metrics).toMatch(/^sandboxshift_webhooks_total\{result="too-large"\} 1$/m);
    expect(metrics).toMatch(/^sandboxshift_webhooks_total\{result="unsigned"\} 1$/m);
    expect(metrics).toMatch(/^sandboxshift_webhooks_total\{result="bad-signature"\} 1$/m);
    expect(metrics).toMatch(/^sandboxshift_webhooks_total\{result="accepted"\} 1$/m);
  });

  it('GET /healthz is 503 while the engine is unreachable', async () => {
    const down = await freePort();
    const u = new WatchProcess(g.p.dir, ['--listen', `127.0.0.1:${down}`, '--webhook-secret-env', 'SS_E2E_HOOK'], { SS_E2E_HOOK: SECRET, DOCKER_HOST: `unix://${join(g.tmp, 'no-engine.sock')}` });
    try {
      await u.waitFor(`listening on 127.0.0.1:${down}`);
      const res = await fetch(`http://127.0.0.1:${down}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.text()).toBe('unhealthy: engine unreachable (ENOENT)\n');
      expect((await fetch(url('/healthz'))).status).toBe(200);
    } finally {
      await u.stop();
    }
  });

  it('--listen without a webhook secret refuses to start, with a hint', async () => {
    const r = await g.p.run(['watch', '--git', '--listen', '127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('watch: --listen needs a webhook secret: unsigned webhooks are never accepted');
    expect(r.stderr).toContain('--webhook-secret-file PATH or --webhook-secret-env NAME');
  });
});
