// cp pauses a running environment while it checks and copies a path (engine/copy-freeze.ts):
// a process in the sandbox that swaps a folder on the path for a symlink to /etc (the race of
// CVE-2018-15664) must never have cp write into /etc or read a root-only file. The pause is
// recorded, so plan leaves it alone while that cp runs and unpauses it once the cp is gone;
// copies of one environment take turns; a signal gives everything back.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, busyboxConfig, containerOf, containerState, docker, dockerCli, sh, testProject, type TestProject } from './harness.js';

describe('cp freezes the environment while it copies', () => {
  let p: TestProject;
  let c: string;
  let host: string;
  const record = () => `${containerOf(p.name, 'dev')}.copying`;
  const recordExists = async () => (await docker.listContainers({ all: true, filters: { name: [`^/${record()}$`] } })).length > 0;

  beforeAll(async () => {
    p = testProject('cpfreeze', busyboxConfig('  dev: {}\n'));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    c = containerOf(p.name, 'dev');
    host = mkdtempSync(join(tmpdir(), 'ss-cpfreeze-'));
    writeFileSync(join(host, 'f'), 'payload\n');
    // A file only root may read, and a folder the sandbox user owns (and so may swap).
    await dockerCli(['exec', '-u', '0', c, 'sh', '-c', 'echo ROOTONLY > /etc/rootonly && chmod 600 /etc/rootonly']);
    await dockerCli(['exec', c, 'sh', '-c', 'mkdir -p /workspace/rr && echo mine > /workspace/rr/rootonly']);
  }, 180_000);
  afterAll(async () => {
    await p.cleanup();
    rmSync(host, { recursive: true, force: true });
  });

  /** The CLI in the background, with its stderr collected. */
  const start = (args: string[], env: Record<string, string> = {}) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: p.dir, env: { ...process.env, NO_COLOR: '1', CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
    return { child, done, stderr: () => stderr };
  };
  const until = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + 20_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const frozen = (child: ChildProcess) => until('the cp to pause the container', async () => child.exitCode === null && (await containerState(p.name, 'dev')) === 'paused' && (await recordExists()));

  it('a folder swapped for a symlink to /etc while cp copies, in and out, 25 times each: never written into, never read', async () => {
    // The sandbox's user swaps rr for a symlink to /etc and back, as fast as it can.
    await dockerCli(['exec', '-d', c, 'sh', '-c', 'cd /workspace; while :; do mv rr rr.r; ln -s /etc rr; rm rr; mv rr.r rr; done']);
    try {
      for (let i = 0; i < 25; i++) {
        const inward = await p.run(['cp', join(host, 'f'), 'dev:rr/escaped-in']);
        // Copied into the folder, or refused at the symlink: never anything else.
        if (inward.code !== 0)
          expect(inward.stderr).toMatch(
            /^error: (refused: dev:rr\/escaped-in goes through the symlink \/workspace\/rr that points to \/etc|dev:rr\/escaped-in: destination parent folder \/workspace\/rr(\.r)? does not exist)/,
          );
        const out = join(host, `out-${i}`);
        const outward = await p.run(['cp', 'dev:rr/rootonly', out]);
        if (outward.code === 0) expect(readFileSync(out, 'utf8')).toBe('mine\n');
        else
          expect(outward.stderr).toMatch(
            /^error: (refused: dev:rr\/rootonly goes through the symlink \/workspace\/rr that points to \/etc|no such file or folder in environment\.dev: \/workspace\/rr\/rootonly)/,
          );
      }
    } finally {
      await dockerCli(['exec', '-u', '0', c, 'pkill', '-f', 'while :']).catch(() => undefined);
    }
    expect((await sh(c, 'test -e /etc/escaped-in && echo ESCAPED || echo kept')).out).toBe('kept\n');
    expect(await containerState(p.name, 'dev')).toBe('running');
    expect(await recordExists()).toBe(false);
  }, 240_000);

  it('between its checks and the copy: paused, recorded, left alone by plan; SIGINT, SIGHUP, SIGTERM unpause and remove the record (130, 129, 143)', async () => {
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGHUP', 129],
    ] as const) {
      const cp = start(['cp', join(host, 'f'), 'dev:held'], { SANDBOXSHIFT_TEST_PAUSE: 'cp-checked' });
      await frozen(cp.child);
      cp.child.kill(signal);
      expect((await cp.done).code).toBe(code);
      expect(await containerState(p.name, 'dev')).toBe('running');
      expect(await recordExists()).toBe(false);
    }
    const cp = start(['cp', join(host, 'f'), 'dev:held'], { SANDBOXSHIFT_TEST_PAUSE: 'cp-checked' });
    await frozen(cp.child);
    // Nothing runs in the sandbox meanwhile (the path checked, the copy not yet sent): not even an exec can start.
    await expect(dockerCli(['exec', c, 'true'])).rejects.toThrow(/is paused/);
    const plan = await p.run(['plan', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    const change = JSON.parse(plan.stdout).resource_changes.find((x: { address: string }) => x.address === 'environment.dev');
    expect(change.kind).toBe('no-op');
    expect(change.reasons).toEqual([{ code: 'copying', message: expect.stringMatching(new RegExp(`^paused while sandboxshift cp copies \\(pid ${cp.child.pid} on .+, since \\d{4}-`)) }]);
    cp.child.kill('SIGTERM');
    expect((await cp.done).code).toBe(143);
    expect(await containerState(p.name, 'dev')).toBe('running');
    expect(await recordExists()).toBe(false);
    expect((await sh(c, 'test -e /workspace/held && echo copied || echo absent')).out).toBe('absent\n');
  }, 60_000);

  it('SIGKILLed while it copies: the pause it leaves is drift to plan, apply unpauses, and the next cp takes its stale record over', async () => {
    const cp = start(['cp', join(host, 'f'), 'dev:killed'], { SANDBOXSHIFT_TEST_PAUSE: 'cp-checked' });
    await frozen(cp.child);
    cp.child.kill('SIGKILL');
    await cp.done;
    expect(await containerState(p.name, 'dev')).toBe('paused');
    const plan = await p.run(['plan']);
    expect(plan.stdout).toContain(`paused by a sandboxshift cp that is gone (pid ${cp.child.pid} on `);
    // A cp now, before any apply: the killed cp's record is stale (its holder is gone), so it is
    // taken over; the copy goes into the paused container, which is left as it was found.
    const next = await p.run(['cp', join(host, 'f'), 'dev:after-kill']);
    expect(next).toEqual({ code: 0, stdout: '', stderr: 'Successfully copied 1 file (8 B) to dev:after-kill\n' });
    expect(await recordExists()).toBe(false);
    expect(await containerState(p.name, 'dev')).toBe('paused');
    expect((await p.run(['plan'])).stdout).toContain('paused outside sandboxshift');
    const apply = await p.run(['apply', '--auto-approve']);
    expect(apply.code, apply.stderr).toBe(0);
    expect(await containerState(p.name, 'dev')).toBe('running');
    expect((await sh(c, 'cat /workspace/after-kill')).out).toBe('payload\n');
  }, 60_000);

  it('two copies of one environment take turns: the second waits, says so, then copies', async () => {
    const release = join(host, 'release');
    const first = start(['cp', join(host, 'f'), 'dev:first'], { SANDBOXSHIFT_TEST_PAUSE: 'cp-checked', SANDBOXSHIFT_TEST_RELEASE_FILE: release });
    await frozen(first.child);
    const second = start(['cp', join(host, 'f'), 'dev:second']);
    await until('the second cp to wait', async () => second.stderr().includes('waiting for another cp'));
    expect(second.stderr()).toMatch(new RegExp(`^sandboxshift: waiting for another cp of dev to finish \\(pid ${first.child.pid} on .+, since \\d{4}-`));
    writeFileSync(release, '');
    expect(await first.done).toEqual({ code: 0, signal: null, stderr: 'Successfully copied 1 file (8 B) to dev:first\n' });
    const r = await second.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Successfully copied 1 file \(8 B\) to dev:second\n$/);
    expect((await sh(c, 'cat /workspace/first /workspace/second')).out).toBe('payload\npayload\n');
    expect(await containerState(p.name, 'dev')).toBe('running');
    expect(await recordExists()).toBe(false);
  }, 60_000);

  it('an exec meanwhile waits for the copy instead of unpausing the sandbox under it, then runs', async () => {
    const release = join(host, 'release-exec');
    const cp = start(['cp', join(host, 'f'), 'dev:during-exec'], { SANDBOXSHIFT_TEST_PAUSE: 'cp-checked', SANDBOXSHIFT_TEST_RELEASE_FILE: release });
    await frozen(cp.child);
    const exec = start(['exec', 'dev', 'cat', '/workspace/during-exec']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(exec.child.exitCode).toBe(null);
    expect(await containerState(p.name, 'dev')).toBe('paused');
    writeFileSync(release, '');
    expect((await cp.done).code).toBe(0);
    const r = await exec.done;
    expect(r.code, r.stderr).toBe(0);
    expect(await containerState(p.name, 'dev')).toBe('running');
    expect(await recordExists()).toBe(false);
  }, 60_000);

  it('never uses a container under the record name that it did not make', async () => {
    await dockerCli(['create', '--name', record(), 'sandboxshift/busybox:test', 'true']);
    try {
      const r = await p.run(['cp', join(host, 'f'), 'dev:planted']);
      expect(r).toEqual({
        code: 1,
        stdout: '',
        stderr: `error: a container named ${record()} exists that sandboxshift did not create; cp records a copy under that name\n  hint: rename or remove it (docker rm ${record()}), then copy again\n`,
      });
      expect(await containerState(p.name, 'dev')).toBe('running');
      expect(existsSync(join(host, 'planted'))).toBe(false);
    } finally {
      await dockerCli(['rm', '-f', record()]);
    }
  }, 60_000);
});
