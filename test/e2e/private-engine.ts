// A second, private Docker engine for one test file: its own network namespace, data, exec
// root, socket and containerd, with runsc registered as scripts/setup.sh does. It can be
// stopped and started again (an engine restart) without touching the shared engine, and is
// always torn down: its containers, the daemon, the namespace and the folders.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Docker from 'dockerode';

export interface PrivateEngine {
  /** DOCKER_HOST for the CLI and the docker client. */
  host: string;
  netns: string;
  docker: Docker;
  /** The docker CLI against this engine. */
  cli(args: string[], timeoutMs?: number): Promise<string>;
  /** Starts dockerd (again, with the same arguments) and waits until it answers. */
  start(): Promise<void>;
  /** SIGTERM, as a service manager stops it, and waits for the daemon to exit. */
  stop(): Promise<void>;
  /** Runs a command in the engine's network namespace (the engine's "host"). */
  inNetns(cmd: string[]): ChildProcess;
  teardown(): Promise<void>;
}

function need(cmd: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`private engine: ${cmd} is not installed (it needs dockerd, nsenter and ip, and root)`);
  }
}

export async function startPrivateEngine(images: string[]): Promise<PrivateEngine> {
  if (process.getuid?.() !== 0) throw new Error('private engine: needs root (a network namespace and a second dockerd)');
  for (const c of ['dockerd', 'nsenter', 'ip', 'runsc']) need(c);
  const id = randomBytes(3).toString('hex');
  const netns = `ss-pe-${id}`;
  // Short: the socket path must fit a sockaddr_un.
  const dir = `/tmp/sspe-${id}`;
  const socket = `${dir}/docker.sock`;
  const pidfile = `${dir}/dockerd.pid`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/daemon.json`, JSON.stringify({ runtimes: { runsc: { path: '/usr/bin/runsc', runtimeArgs: ['--network=host'] } } }));
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  const host = `unix://${socket}`;
  const docker = new Docker({ socketPath: socket });
  let daemon: ChildProcess | null = null;
  const children: ChildProcess[] = [];

  const start = async () => {
    // nsenter, not `ip netns exec` (which remounts /sys and breaks the daemon's cgroup mounts).
    daemon = spawn(
      'nsenter',
      [`--net=/var/run/netns/${netns}`, 'dockerd', '--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '--pidfile', pidfile, '-H', host, '--config-file', `${dir}/daemon.json`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    daemon.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (daemon.exitCode !== null) throw new Error(`private engine: dockerd exited with ${daemon.exitCode}: ${log}`);
      if (
        existsSync(socket) &&
        (await docker.ping().then(
          () => true,
          () => false,
        ))
      )
        return;
      if (Date.now() > deadline) throw new Error(`private engine: dockerd did not answer within 60 s: ${log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const stop = async () => {
    const d = daemon;
    if (!d || d.exitCode !== null) return;
    const exited = new Promise<void>((r) => d.once('exit', () => r()));
    d.kill('SIGTERM');
    const timer = setTimeout(() => d.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  };

  const cli = (args: string[], timeoutMs = 120_000) =>
    new Promise<string>((resolve, reject) => {
      execFile('docker', ['-H', host, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) =>
        err ? reject(new Error(`docker -H ${host} ${args.join(' ')} failed: ${stderr || err.message}`)) : resolve(stdout),
      );
    });

  const teardown = async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (daemon && daemon.exitCode === null) {
      const all = await docker.listContainers({ all: true }).catch(() => []);
      await Promise.all(
        all.map((c) =>
          docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
      );
      await stop();
    }
    // A daemon that died hard leaves its containerd and mounts: end what runs under our exec root.
    const leftovers = execFileSync('sh', ['-c', `ps -eo pid=,args= | grep -F ${dir}/ | grep -v grep | awk '{print $1}'`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    for (const pid of leftovers) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(`${dir}/`))
      .sort((x, y) => y.length - x.length);
    for (const m of mounts) execFileSync('umount', ['-l', m]);
    execFileSync('ip', ['netns', 'del', netns]);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await start();
    // The images the test needs, from the shared engine: the private one has no registry access.
    await new Promise<void>((resolve, reject) => {
      const save = spawn('docker', ['save', ...images], { stdio: ['ignore', 'pipe', 'pipe'] });
      const load = spawn('docker', ['-H', host, 'load', '-q'], { stdio: ['pipe', 'ignore', 'pipe'] });
      save.stdout.pipe(load.stdin);
      let err = '';
      save.stderr.on('data', (d: Buffer) => (err += d.toString()));
      load.stderr.on('data', (d: Buffer) => (err += d.toString()));
      load.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`private engine: loading ${images.join(' ')} failed: ${err}`))));
    });
  } catch (err) {
    await teardown();
    throw err;
  }

  return {
    host,
    netns,
    docker,
    cli,
    start,
    stop,
    inNetns: (cmd) => {
      const c = spawn('nsenter', [`--net=/var/run/netns/${netns}`, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      return c;
    },
    teardown,
  };
}
