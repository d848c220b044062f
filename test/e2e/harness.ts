// End-to-end harness: a temp project folder, the built CLI run as a user would run it, and
// cleanup of everything the project left on the engine.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { statusCode } from '../../src/engine/client.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const TEST_IMAGE = 'sandboxshift/busybox:test';

/** Podman's Docker-compatible socket, as scripts/setup-podman.sh starts it. */
export const PODMAN_SOCKET = '/run/podman/podman.sock';
export const PODMAN_HOST = `unix://${PODMAN_SOCKET}`;

/**
 * The engine the tests drive: Docker's socket, or with SANDBOXSHIFT_TEST_ENGINE=podman
 * Podman's (the CLI gets DOCKER_HOST, dockerode and the docker CLI talk to that socket).
 */
export const TESTS_ON_PODMAN = process.env.SANDBOXSHIFT_TEST_ENGINE === 'podman';
export const TEST_ENGINE_HOST: string | undefined = TESTS_ON_PODMAN ? PODMAN_HOST : process.env.DOCKER_HOST;
if (TESTS_ON_PODMAN) process.env.DOCKER_HOST = PODMAN_HOST;
export const docker = TEST_ENGINE_HOST?.startsWith('unix://') ? new Docker({ socketPath: TEST_ENGINE_HOST.slice('unix://'.length) }) : new Docker();

/** A dockerode client for Podman's socket (test/e2e/podman.test.ts targets it explicitly). */
export const podman = new Docker({ socketPath: PODMAN_SOCKET });

/** Fails loudly, with what to do, when Podman's service does not answer (files that target it call this first). */
export async function requirePodman(): Promise<void> {
  try {
    const v = await podman.version();
    if (!(v.Components ?? []).some((c) => c.Name === 'Podman Engine')) throw new Error(`the engine at ${PODMAN_SOCKET} is not Podman`);
  } catch (err) {
    throw new Error(`Podman's Docker-compatible service does not answer at ${PODMAN_SOCKET} (${(err as Error).message}): run \`npm run setup\` as root (scripts/setup-podman.sh)`, { cause: err });
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestProject {
  name: string;
  dir: string;
  file: string;
  write(yaml: string): void;
  run(args: string[], opts?: { env?: Record<string, string>; input?: string; timeoutMs?: number }): Promise<RunResult>;
  cleanup(): Promise<void>;
}

/**
 * The config most end-to-end tests start from: the busybox test image and small limits for
 * every environment; `environments` is the indented YAML of the environments map, `resources`
 * the defaults' limits (flow YAML).
 */
export function busyboxConfig(environments: string, resources = '{ cpus: 0.25, memory: 32m, pids: 32 }'): string {
  return `
version: 1
project: {{project}}
images:
  busybox: { ref: ${TEST_IMAGE} }
defaults:
  image: busybox
  resources: ${resources}
environments:
${environments}`;
}

/**
 * A git remote for `workspace.git` seeds: `DIR/repo.git` (bare), cloned from `DIR/repo-src` where
 * `v1` (tagged v1) was committed, then `v2` on top.
 */
export function gitSeedRepo(dir: string, v1: Record<string, string>, v2: Record<string, string>): string {
  const src = join(dir, 'repo-src');
  const write = (files: Record<string, string>) => {
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(src, name, '..'), { recursive: true });
      writeFileSync(join(src, name), content);
    }
  };
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: src, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
  write(v1);
  git('init', '-q');
  git('add', '.');
  git('commit', '-qm', 'v1');
  git('tag', 'v1');
  write(v2);
  git('commit', '-qam', 'v2');
  const bare = join(dir, 'repo.git');
  execFileSync('git', ['clone', '-q', '--bare', src, bare]);
  return bare;
}

/** A fresh project with a unique name; `yaml` may use {{project}} for the name. */
export function testProject(label: string, yaml: string): TestProject {
  const name = `e2e-${label}-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `ss-${label}-`));
  const file = join(dir, 'sandboxshift.yaml');
  const write = (text: string) => writeFileSync(file, text.replaceAll('{{project}}', name));
  write(yaml);
  return {
    name,
    dir,
    file,
    write,
    run: (args, opts = {}) => runCli(args, dir, opts),
    cleanup: async () => {
      await removeProject(name);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs the built CLI with pipes for stdin and stdout, CI=true; an `env` value of undefined unsets it.
 * `timeoutMs`: a run still going then is killed and ends with code -1 and `hung` in stderr.
 */
export function runCli(args: string[], cwd: string, opts: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', CI: 'true', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let hung = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            hung = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: hung ? -1 : (code ?? -1), stdout, stderr: hung ? `${stderr}\n(hung: killed after ${opts.timeoutMs} ms)` : stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Runs the CLI with a preload that lists every module it loads: what require() asks for (the
 * short paths of exec and cp are one CommonJS file each) and what the ESM loader resolves (the
 * full CLI).
 */
export async function runListingModules(p: TestProject, args: string[], env: Record<string, string> = {}): Promise<{ r: RunResult; modules: string[] }> {
  const hook = join(p.dir, 'list-modules.cjs');
  const list = join(p.dir, 'modules.txt');
  const resolver = `import { appendFileSync } from 'node:fs'; export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(list)}, r.url + '\\n'); return r; }`;
  writeFileSync(
    hook,
    [
      `const Module = require('node:module'), { appendFileSync } = require('node:fs');`,
      `const load = Module._load;`,
      `Module._load = function (request, ...rest) { appendFileSync(${JSON.stringify(list)}, request + '\\n'); return load.call(this, request, ...rest); };`,
      `Module.register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(resolver)}));`,
    ].join('\n'),
  );
  rmSync(list, { force: true });
  const r = await p.run(args, { env: { NODE_OPTIONS: `--require=${hook}`, ...env } });
  return { r, modules: readFileSync(list, 'utf8').split('\n') };
}

/** The docker CLI, as a user would run it out of band. A hung call is killed after timeoutMs. */
export function dockerCli(args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { maxBuffer: 16 * 1024 * 1024, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err && (err as { killed?: boolean }).killed) reject(new DockerTimeout(`docker ${args.join(' ')} hung for ${timeoutMs} ms`));
      else if (err) reject(new Error(`docker ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

class DockerTimeout extends Error {}

/** Runs a shell script in a container; throws only on a hang. Output (stdout and stderr) and exit code. */
export async function sh(container: string, script: string): Promise<{ out: string; rc: number }> {
  const out = await dockerCli(['exec', container, 'sh', '-c', `${script} 2>&1; echo "rc=$?"`], 90_000);
  const m = /rc=(\d+)\s*$/.exec(out);
  return { out: out.replace(/rc=\d+\s*$/, ''), rc: Number(m?.[1] ?? -1) };
}

/** Runs a command in a container as its user and returns stdout (throws on non-zero or a hang). */
export async function execIn(container: string, cmd: string[]): Promise<string> {
  return dockerCli(['exec', container, ...cmd], 30_000);
}

export async function removeProject(project: string): Promise<void> {
  const filter = { label: [`io.sandboxshift.project=${project}`] };
  const containers = await docker.listContainers({ all: true, filters: filter });
  // Already gone (removed by the test itself) is fine; anything else is a real failure.
  const gone = (err: Error & { statusCode?: number }) => {
    if (err.statusCode !== 404) throw err;
  };
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(gone)));
  const volumes = (await docker.listVolumes({ filters: filter })).Volumes ?? [];
  await Promise.all(volumes.map((v) => docker.getVolume(v.Name).remove().catch(gone)));
  // Networks last: egress networks are free only once the project's containers are gone.
  const networks = await docker.listNetworks({ filters: filter });
  for (const n of networks) await docker.getNetwork(n.Id).remove().catch(gone);
}

/** Whether a project's engine lock is held (its lock container exists). */
export async function lockPresent(project: string): Promise<boolean> {
  try {
    await docker.getContainer(`ss.${project}.lock`).inspect();
    return true;
  } catch (err) {
    // Podman answers 500 (no such container) for one being removed: Docker's 404 (statusCode reads it so).
    if (statusCode(err) === 404) return false;
    throw err;
  }
}

/** Waits until nobody holds the project's lock (a watcher's reconcile gives it back within seconds). */
export async function lockReleased(project: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (await lockPresent(project)) {
    if (Date.now() > deadline) throw new Error(`the lock of ${project} is still held after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function containerOf(project: string, env: string): string {
  return `ss.${project}.${env}`;
}

export function volumeOf(project: string, env: string): string {
  return `ss.${project}.${env}.workspace`;
}

export async function containerState(project: string, env: string): Promise<string | null> {
  try {
    const info = await docker.getContainer(containerOf(project, env)).inspect();
    return info.State.Status;
  } catch {
    return null;
  }
}

export async function volumeExists(name: string): Promise<boolean> {
  try {
    await docker.getVolume(name).inspect();
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs the CLI on a real pseudo-terminal (util-linux `script`), typing `answer` when the
 * approval prompt appears, as a person at a terminal would. With TERM=dumb and CI set (even
 * empty) it gets the plain prompt, not the TUI (see src/cli/tui.ts; the TUI is tui.test.ts's).
 */
export function runInTerminal(args: string[], cwd: string, answer: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', CI: '', TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let answered = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!answered && stdout.includes('Enter a value:')) {
        answered = true;
        child.stdin.write(`${answer}\r`);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: stdout.replaceAll('\r\n', '\n'), stderr: '' }));
  });
}

/**
 * Reads a file under /workspace through the engine's archive API (what `docker cp` uses), with
 * no process started in the container. Waits up to 20 s for the file to appear.
 */
export async function readWorkspaceFile(container: string, name: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const stream = await docker.getContainer(container).getArchive({ path: `/workspace/${name}` });
      return await firstFileOfTar(stream);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404 || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function firstFileOfTar(stream: NodeJS.ReadableStream): Promise<string> {
  const { extract } = await import('tar-stream');
  const ex = extract();
  return new Promise((resolve, reject) => {
    let content: string | null = null;
    ex.on('entry', (_header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => chunks.push(c as Buffer));
      body.on('end', () => {
        content ??= Buffer.concat(chunks).toString('utf8');
        next();
      });
    });
    ex.on('finish', () => (content === null ? reject(new Error('empty archive')) : resolve(content)));
    ex.on('error', reject);
    stream.pipe(ex);
  });
}

/**
 * The test projects and hand-made volumes a test file makes, removed after its tests:
 * `const tracked = trackedProjects(); afterAll(tracked.cleanup);` then `tracked.project(label, yaml)`,
 * and push the name of every volume made by hand onto `tracked.foreignVolumes`.
 */
export function trackedProjects(): { project(label: string, yaml: string): TestProject; foreignVolumes: string[]; cleanup(): Promise<void> } {
  const projects: TestProject[] = [];
  const foreignVolumes: string[] = [];
  return {
    foreignVolumes,
    project(label: string, yaml: string): TestProject {
      const p = testProject(label, yaml);
      projects.push(p);
      return p;
    },
    async cleanup(): Promise<void> {
      for (const p of projects) await p.cleanup();
      for (const v of foreignVolumes)
        await docker
          .getVolume(v)
          .remove()
          .catch(() => undefined);
    },
  };
}
