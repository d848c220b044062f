// `sandboxshift exec` and `shell` on the real engine: streams kept apart, exit codes passed
// through, the environment's user in /workspace, secrets loaded as the entrypoint loads them
// (and never printed by us), stdin forwarded to its end, output and input held back by a slow
// reader or command in bounded memory, stopped and paused environments woken first, a real PTY
// that follows the window, and the same under gVisor.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordIdle } from '../../src/engine/idle-record.js';
import { CLI, busyboxConfig, containerOf, containerState, docker, dockerCli, runListingModules, sh, testProject, type TestProject } from './harness.js';
import { inTerminal } from './terminal.js';

const CANARY = `canary-${randomBytes(8).toString('hex')}`;

interface EngineEvent {
  Action: string;
  Actor: { Attributes: Record<string, string> };
}

/**
 * The container's exec_start event whose command contains `marker`, watched live: the engine
 * keeps only its last 256 events, and on a shared engine a later `docker events --since` misses them.
 */
function execEvents(container: string, marker: string): { listening: Promise<void>; event: Promise<EngineEvent> } {
  let ready!: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  const event = (async () => {
    const stream = (await docker.getEvents({ filters: { container: [container], event: ['exec_start'] } })) as NodeJS.ReadableStream & { destroy(): void };
    ready();
    const timer = setTimeout(() => stream.destroy(), 60_000);
    try {
      let buffered = '';
      for await (const chunk of stream) {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const e = JSON.parse(line) as EngineEvent;
          if (e.Action.includes(marker)) return e;
        }
      }
      throw new Error(`no exec_start event with ${marker} within 60 s`);
    } finally {
      clearTimeout(timer);
      stream.destroy();
    }
  })();
  return { listening, event };
}

/** The environment every test here execs into; an idle policy so `status` samples its activity. */
const devEnvironment = (runtime?: string) => `
  dev:
    ${runtime ? `runtime: ${runtime}` : ''}
    idle: { stopAfter: 1h }
    secrets:
      api_key: { fromEnv: CANARY_KEY }
`;

/**
 * `sandboxshift exec ARGS` and the CLI process's peak resident memory in MB (VmHWM, sampled from
 * /proc until it exits); `drive` feeds its stdin and reads its stdout, as slowly as it means to.
 */
async function execWatchingMemory(p: TestProject, args: string[], env: Record<string, string>, drive: (child: ChildProcessWithoutNullStreams) => Promise<string>) {
  const child = spawn(process.execPath, [CLI, 'exec', ...args], { cwd: p.dir, env: { ...process.env, NO_COLOR: '1', CI: 'true', CANARY_KEY: CANARY, ...env }, stdio: 'pipe' });
  let peakKb = 0;
  const sample = setInterval(() => {
    try {
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0));
    } catch {
      // exited
    }
  }, 20);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  try {
    const stdout = await drive(child);
    const [code] = await exited;
    return { code, stdout, stderr, peakMb: Math.round(peakKb / 1024) };
  } finally {
    clearInterval(sample);
  }
}

/** All of a stream's bytes, counted. */
async function byteCount(stream: NodeJS.ReadableStream): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += (chunk as Buffer).length;
  return n;
}

/** All of a stream's text. */
async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let all = '';
  for await (const chunk of stream) all += (chunk as Buffer).toString();
  return all;
}

function project(label: string, runtime?: string): TestProject {
  return testProject(label, busyboxConfig(devEnvironment(runtime)));
}

describe('exec (runc)', () => {
  let p: TestProject;
  const printed: string[] = [];
  const exec = async (args: string[], input?: string, env: Record<string, string> = {}) => {
    const r = await p.run(['exec', ...args], { env: { CANARY_KEY: CANARY, ...env }, ...(input !== undefined ? { input } : {}) });
    printed.push(r.stderr);
    return r;
  };

  beforeAll(async () => {
    p = project('exec');
    const r = await p.run(['apply', '--auto-approve'], { env: { CANARY_KEY: CANARY } });
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => p.cleanup());

  it('keeps stdout and stderr apart, and prints nothing of its own', async () => {
    const r = await exec(['dev', 'sh', '-c', 'echo out; echo err >&2; echo out2']);
    expect(r).toEqual({ code: 0, stdout: 'out\nout2\n', stderr: 'err\n' });
  });

  /** exec with a preload that lists every module the CLI loads (harness.ts). */
  const execListingModules = async (args: string[], env: Record<string, string> = {}) => {
    const listed = await runListingModules(p, ['exec', ...args], { CANARY_KEY: CANARY, ...env });
    printed.push(listed.r.stderr);
    return listed;
  };

  it('takes the short path on a cached config and a running environment (one CommonJS file: no ESM loader, flag parser, prompt code or node:http), the full one without the cache, alike', async () => {
    const run = (env: Record<string, string>) => execListingModules(['dev', 'sh', '-c', 'echo out; echo err >&2; exit 5'], env);
    const short = await run({});
    const full = await run({ SANDBOXSHIFT_NO_CONFIG_CACHE: '1' });
    expect(short.r).toEqual({ code: 5, stdout: 'out\n', stderr: 'err\n' });
    expect(full.r).toEqual(short.r);
    expect(short.modules).toContain('node:net');
    expect(short.modules.some((m) => m.endsWith('/exec-short-path.cjs'))).toBe(true);
    // No ESM loader at all on the short path: no chunk of the bundle was resolved.
    expect(short.modules.filter((m) => m.startsWith('file:'))).toEqual([]);
    expect(short.modules.filter((m) => ['node:util', 'node:readline/promises', 'node:http', 'node:crypto'].includes(m))).toEqual([]);
    // The full path: the ESM bundle's exec command and the flag parser (node:util).
    expect(full.modules).toContain('node:util');
    expect(full.modules.some((m) => /^file:.*\/bundle\/exec-[\w-]+\.js$/.test(m))).toBe(true);
  });

  it("returns the command's exit code: 3, 127 for a missing command, 126 for one it cannot run", async () => {
    expect((await exec(['dev', 'sh', '-c', 'exit 3'])).code).toBe(3);
    const missing = await exec(['dev', 'no-such-command']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/^sandboxshift-exec: .*no-such-command: not found\n$/);
    expect(missing.stdout).toBe('');
    const notExecutable = await exec(['dev', '/workspace']);
    expect(notExecutable.code).toBe(126);
    // A command that starts with - is a command like any other (the shell's exec once took it as its option: exit 2).
    for (const cmd of [
      ['-i', 'echo', 'hi'],
      ['--', '--', 'echo', 'hi'],
    ]) {
      const dashed = await exec(['dev', ...cmd]);
      expect(dashed.code).toBe(127);
      expect(dashed.stderr).toMatch(/^sandboxshift-exec: .*(-i|--): not found\n$/);
      expect(dashed.stdout).toBe('');
    }
  });

  it("runs as the environment's user in /workspace, the command's own flags untouched", async () => {
    const r = await exec(['dev', 'sh', '-c', 'id -u; id -g; pwd; echo "$@"', 'sh', '--help', '-la']);
    expect(r).toEqual({ code: 0, stdout: '65532\n65532\n/workspace\n--help -la\n', stderr: '' });
  });

  it('loads the secrets as variables, and the value appears in nothing sandboxshift prints', async () => {
    const marker = `secret-${randomBytes(4).toString('hex')}`;
    const seen = execEvents(containerOf(p.name, 'dev'), marker);
    await seen.listening;
    const r = await exec(['dev', 'sh', '-c', `printf %s "$API_KEY" # ${marker}`]);
    expect(r).toEqual({ code: 0, stdout: CANARY, stderr: '' });
    // The engine's record of the exec holds the loader and the command, never the value.
    const event = await seen.event;
    expect(JSON.stringify(event)).not.toContain(CANARY);
    // What sandboxshift itself printed in every test here (stderr; stdout is the command's).
    expect(printed.join('')).not.toContain(CANARY);
  });

  it('forwards piped stdin to its end: `echo hi | exec dev cat` prints hi and exits 0', async () => {
    expect(await exec(['dev', 'cat'], 'hi\n')).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    const big = 'x'.repeat(3 * 1024 * 1024);
    expect(await exec(['dev', 'wc', '-c'], big)).toEqual({ code: 0, stdout: `${big.length}\n`, stderr: '' });
    expect(await exec(['dev', 'cat'], '')).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  // 200 MB through a reader that waits 5 s, and into a command that waits 5 s: with no
  // backpressure the CLI kept what was not yet taken, and peaked near 300 and 240 MB; with it, at
  // 83 (a bare `exec dev true` is 43), whatever the size. `docker exec` holds 24.
  const BIG = 200_000_000;
  const PEAK_MB = 150;

  it.each([
    ['short', {}],
    ['full', { SANDBOXSHIFT_NO_CONFIG_CACHE: '1' }],
  ])('holds the command back while its reader is slow, as a pipe would: every byte arrives, and memory stays bounded (%s path)', async (_path, env) => {
    const r = await execWatchingMemory(p, ['dev', 'head', '-c', String(BIG), '/dev/zero'], env, async (child) => {
      child.stdin.end();
      await new Promise((resolve) => setTimeout(resolve, 5000));
      return String(await byteCount(child.stdout));
    });
    expect(r).toMatchObject({ code: 0, stdout: String(BIG), stderr: '' });
    expect(r.peakMb).toBeLessThan(PEAK_MB);
  });

  it('reads stdin only as fast as the command takes it: every byte arrives, and memory stays bounded', async () => {
    const r = await execWatchingMemory(p, ['dev', 'sh', '-c', 'sleep 5; wc -c'], {}, async (child) => {
      const output = text(child.stdout);
      const mb = Buffer.alloc(1_000_000, 'x');
      for (let sent = 0; sent < BIG; sent += mb.length) if (!child.stdin.write(mb)) await once(child.stdin, 'drain');
      child.stdin.end();
      return output;
    });
    expect(r).toMatchObject({ code: 0, stdout: `${BIG}\n`, stderr: '' });
    expect(r.peakMb).toBeLessThan(PEAK_MB);
  });

  it("forwards nothing from /dev/null, as docker exec without -i: the command's stdin is the sandbox's /dev/null, a piped one a pipe", async () => {
    const viaBash = (line: string) =>
      new Promise<string>((resolve, reject) =>
        execFile('bash', ['-c', line], { cwd: p.dir, env: { ...process.env, CANARY_KEY: CANARY, CI: 'true' }, timeout: 60_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${line}: ${err.message} ${stderr}`)) : resolve(stdout),
        ),
      );
    const cli = `'${process.execPath}' '${CLI}' exec dev sh -c 'readlink /proc/self/fd/0; cat; echo "rc=$?"'`;
    expect(await viaBash(`${cli} </dev/null`)).toBe('/dev/null\nrc=0\n');
    expect(await viaBash(`echo hi | ${cli}`)).toMatch(/^pipe:\[\d+\]\nhi\nrc=0\n$/);
    // Asked for, a PTY still gets it, its end a terminal's end of file (^D): cat ends.
    const withPty = `'${process.execPath}' '${CLI}' exec -t dev sh -c 'readlink /proc/self/fd/0; cat; echo "rc=$?"'`;
    expect(await viaBash(`${withPty} </dev/null`)).toMatch(/^\/dev\/pts\/\d+\r\nrc=0\r\n$/);
  });

  it("with -t and stdin not a terminal, the end of input is a terminal's end of file (^D): the output and the exit code are kept, a reader ends", async () => {
    // The engine closes a PTY exec's output as soon as its input closes: ending our half lost both.
    expect(await exec(['-t', 'dev', 'sh', '-c', 'echo hi; exit 3'], '')).toEqual({ code: 3, stdout: 'hi\r\n', stderr: '' });
    // The PTY echoes what it is given, then cat prints it.
    expect(await exec(['-t', 'dev', 'cat'], 'abc\n')).toEqual({ code: 0, stdout: 'abc\r\nabc\r\n', stderr: '' });
  });

  it('stops as a local command would when its reader goes away: exit 141, no trace', async () => {
    const pipeline = `'${process.execPath}' '${CLI}' exec dev yes 2>&1 | head -2; echo "rc=\${PIPESTATUS[0]}"`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile('bash', ['-c', pipeline], { cwd: p.dir, env: { ...process.env, CANARY_KEY: CANARY, CI: 'true' }, timeout: 60_000 }, (err, stdout) =>
        err ? reject(new Error(`${pipeline}: ${err.message}`)) : resolve(stdout),
      ),
    );
    expect(out).toBe('y\ny\nrc=141\n');
    // As with `docker exec`, the engine does not stop the command when its client goes: stop it here.
    await dockerCli(['restart', '-t', '1', containerOf(p.name, 'dev')]);
  });

  it('counts as activity: the engine reports the exec the idle clock listens for', async () => {
    const marker = `activity-${randomBytes(4).toString('hex')}`;
    const seen = execEvents(containerOf(p.name, 'dev'), marker);
    await seen.listening;
    expect((await exec(['dev', 'sh', '-c', `: ${marker}`])).code).toBe(0);
    const event = await seen.event;
    expect(event.Actor.Attributes['io.sandboxshift.environment']).toBe('dev');
    expect(event.Action).toMatch(/^exec_start: \/bin\/sh -c set \+x\n/);
  });

  it("shows in status as the environment's last activity while it runs", async () => {
    const running = exec(['dev', 'sleep', '10']);
    const deadline = Date.now() + 60_000;
    let last: unknown = null;
    while (Date.now() < deadline) {
      const status = JSON.parse((await p.run(['status', '--json'], { env: { CANARY_KEY: CANARY } })).stdout) as {
        environments: Array<{ name: string; idle?: { last_activity: { signal: string } | null } }>;
      };
      last = status.environments.find((e) => e.name === 'dev')?.idle?.last_activity ?? null;
      if ((last as { signal?: string } | null)?.signal === 'exec') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(last).toMatchObject({ signal: 'exec' });
    expect((await running).code).toBe(0);
  });

  it('names the closest environment for a misspelt one', async () => {
    const r = await exec(['dex', 'true']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("error: no environment 'dex' in the config; did you mean 'dev'?\n  hint: the config has: dev\n");
  });

  it('says to run apply for an environment with no container, and never uses a container of our name that is not ours (named in the error)', async () => {
    p.write(busyboxConfig(`${devEnvironment()}  later: {}\n`));
    const foreign = containerOf(p.name, 'later');
    try {
      expect(await exec(['later', 'true'])).toEqual({ code: 1, stdout: '', stderr: "error: environment 'later' has no container on the engine\n  hint: run sandboxshift apply to create it\n" });
      // A container named as ours would be, without our labels: not the environment, and apply would stop on it too.
      await dockerCli(['run', '-d', '--name', foreign, '--user', '65532', 'sandboxshift/busybox:test', 'sleep', '600']);
      const r = await exec(['later', 'sh', '-c', 'echo ran > /tmp/ran']);
      expect(r).toEqual({
        code: 1,
        stdout: '',
        stderr: `error: a container named ${foreign} exists that sandboxshift did not create for environment.later of project ${p.name}\n  hint: remove or rename it (docker rm ${foreign}) and run sandboxshift apply\n`,
      });
      expect((await sh(foreign, 'cat /tmp/ran')).rc).not.toBe(0);
    } finally {
      p.write(busyboxConfig(devEnvironment()));
      await dockerCli(['rm', '-f', foreign]);
    }
  });

  it('on the short path too (the config unchanged, its cache warm): never uses a container under our name whose labels are not all ours, and finds ours renamed by its labels', async () => {
    const name = containerOf(p.name, 'dev');
    const moved = `${name}-moved`;
    await dockerCli(['rename', name, moved]);
    // Our project's and environment's labels, but not the environment role: not the environment.
    const labels = ['--label', `io.sandboxshift.project=${p.name}`, '--label', 'io.sandboxshift.environment=dev'];
    await dockerCli(['run', '-d', '--name', name, ...labels, '--user', '65532', 'sandboxshift/busybox:test', 'sleep', '600']);
    try {
      const { r, modules } = await execListingModules(['dev', 'sh', '-c', 'echo ran > /tmp/ran; echo ok']);
      expect(r).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
      // The short path looked (its file loaded) and declined; the full path ran the command.
      expect(modules.some((m) => m.endsWith('/exec-short-path.cjs'))).toBe(true);
      expect(modules.some((m) => /^file:.*\/bundle\/exec-[\w-]+\.js$/.test(m))).toBe(true);
      expect((await sh(name, 'cat /tmp/ran')).rc).not.toBe(0);
      expect(await sh(moved, 'cat /tmp/ran')).toEqual({ out: 'ran\n', rc: 0 });
    } finally {
      await dockerCli(['rm', '-f', name]);
      await dockerCli(['rename', moved, name]);
    }
  });

  it('starts a stopped environment first, saying so on stderr', async () => {
    await dockerCli(['stop', '-t', '1', containerOf(p.name, 'dev')]);
    const r = await exec(['dev', 'echo', 'ok']);
    expect(r).toEqual({ code: 0, stdout: 'ok\n', stderr: 'sandboxshift: starting dev (it was stopped)\n' });
    expect(await containerState(p.name, 'dev')).toBe('running');
  });

  it('unpauses a paused environment first', async () => {
    await dockerCli(['pause', containerOf(p.name, 'dev')]);
    const r = await exec(['dev', 'echo', 'ok']);
    expect(r).toEqual({ code: 0, stdout: 'ok\n', stderr: 'sandboxshift: unpausing dev (it was paused)\n' });
    expect(await containerState(p.name, 'dev')).toBe('running');
  });

  it('names the idle policy when it stopped or paused the environment, and clears its record', async () => {
    const c = await docker.getContainer(containerOf(p.name, 'dev')).inspect();
    for (const [action, verb, did] of [
      ['stop', 'starting', 'stopped'],
      ['pause', 'unpausing', 'paused'],
    ] as const) {
      await recordIdle(docker, p.name, { environment: 'dev', since: new Date().toISOString(), action, containerId: c.Id });
      await dockerCli(action === 'stop' ? ['stop', '-t', '1', c.Id] : ['pause', c.Id]);
      const r = await exec(['dev', 'echo', 'ok']);
      expect(r).toEqual({ code: 0, stdout: 'ok\n', stderr: `sandboxshift: ${verb} dev (${did} by its idle policy)\n` });
      const records = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=idle-stopped'] } });
      expect(records).toEqual([]);
    }
  });
});

describe('exec and shell on a terminal (tmux)', () => {
  let p: TestProject;
  beforeAll(async () => {
    p = project('exec-tty');
    expect((await p.run(['apply', '--auto-approve'], { env: { CANARY_KEY: CANARY } })).code).toBe(0);
  });
  afterAll(async () => p.cleanup());

  it('gives a real PTY whose size follows the window', async () => {
    const t = await inTerminal(['exec', 'dev', 'sh', '-c', 'tty >/dev/null && echo "size[$(stty size)]"; read line; echo "size[$(stty size)]"; exit 5'], p.dir, { CANARY_KEY: CANARY });
    try {
      await t.waitFor('size[40 120]');
      await t.resize(100, 30);
      // The engine gets the new size on SIGWINCH; give it a moment before asking again.
      await new Promise((r) => setTimeout(r, 1000));
      await t.keys('Enter');
      const screen = await t.waitFor('[exit 5]');
      expect(screen).toContain('size[30 100]');
    } finally {
      await t.close();
    }
  });

  it("opens the user's shell in /workspace, with the secrets, and gives back the terminal", async () => {
    const t = await inTerminal(['shell', 'dev'], p.dir, { CANARY_KEY: CANARY });
    try {
      await t.waitFor('$');
      await t.keys('echo "who[$0 $(id -u) $PWD ${#API_KEY}]"', 'Enter');
      await t.waitFor(`who[/bin/sh 65532 /workspace ${CANARY.length}]`);
      await t.keys('exit 7', 'Enter');
      await t.waitFor('[exit 7]');
      // The local terminal is out of raw mode again: the outer shell's echo works line by line.
      expect(await t.screen()).not.toContain(CANARY);
    } finally {
      await t.close();
    }
  });
});

describe('exec under gVisor (runsc)', () => {
  let p: TestProject;
  beforeAll(async () => {
    p = project('exec-runsc', 'runsc');
    const r = await p.run(['apply', '--auto-approve'], { env: { CANARY_KEY: CANARY } });
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => p.cleanup());

  it('keeps streams apart, passes exit codes, loads secrets and forwards stdin', async () => {
    const run = (args: string[], input?: string) => p.run(['exec', ...args], { env: { CANARY_KEY: CANARY }, ...(input !== undefined ? { input } : {}) });
    expect(await run(['dev', 'sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    expect((await run(['dev', 'no-such-command'])).code).toBe(127);
    expect(await run(['dev', 'sh', '-c', 'id -u; pwd; printf %s "$API_KEY"'])).toEqual({ code: 0, stdout: `65532\n/workspace\n${CANARY}`, stderr: '' });
    expect(await run(['dev', 'cat'], 'hi\n')).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
  });
});
