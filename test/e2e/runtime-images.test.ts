// The runtime images in images/ keep the image contract (non-root 65532, /bin/sh, a writable
// /workspace, the contract label, no exposed ports), hold the runtimes their tags name, and turn
// /run/secrets files into environment variables of the process only, never of the container.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { pack } from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { docker, dockerCli } from './harness.js';

const IMAGES_DIR = fileURLToPath(new URL('../../images/', import.meta.url));
const SANDBOX_UID = 65532;
// The flags SandboxShift runs every environment with.
const HARDENED = ['--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--label', 'io.sandboxshift.test=runtime-images'];

interface RuntimeImage {
  name: string;
  python: boolean;
  node: boolean;
}

const IMAGES: RuntimeImage[] = [
  { name: 'sandboxshift/runtime-python', python: true, node: false },
  { name: 'sandboxshift/runtime-node', python: false, node: true },
  { name: 'sandboxshift/runtime-multi', python: true, node: true },
];

function make(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('make', ['-C', IMAGES_DIR, ...args], { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`make ${args.join(' ')} failed: ${err.message}\n${(stdout + stderr).slice(-4000)}`));
      else resolve(stdout);
    });
  });
}

/** Runs `sh -c script` in a fresh hardened container and returns its stdout. */
function runIn(image: string, script: string, extra: string[] = []): Promise<string> {
  return dockerCli(['run', '--rm', ...HARDENED, ...extra, image, 'sh', '-c', script], 120_000);
}

async function secretsTar(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  const owner = { uid: SANDBOX_UID, gid: SANDBOX_UID, mtime: new Date(0) };
  p.entry({ name: 'run/secrets/', type: 'directory', mode: 0o500, ...owner });
  for (const [name, value] of Object.entries(files)) {
    p.entry({ name: `run/secrets/${name}`, type: 'file', mode: 0o400, size: Buffer.byteLength(value), ...owner }, value);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Creates a container with `files` in /run/secrets (0400, owned by the sandbox user, as
 * SandboxShift puts them), runs `script` through the image's entrypoint, and returns its output
 * and the container's inspected Config.Env.
 */
async function runWithSecrets(image: string, files: Record<string, string>, script: string, extra: string[] = []) {
  const id = (await dockerCli(['create', ...HARDENED, ...extra, image, 'sh', '-c', script])).trim();
  try {
    await docker.getContainer(id).putArchive(await secretsTar(files), { path: '/' });
    const output = await dockerCli(['start', '-a', id], 120_000);
    const info = await docker.getContainer(id).inspect();
    return { output, env: info.Config.Env ?? [], exitCode: info.State.ExitCode };
  } finally {
    await docker.getContainer(id).remove({ force: true });
  }
}

describe('runtime images', () => {
  let buildOutput = '';

  beforeAll(async () => {
    // The real build, through the Makefile users run; the engine's layer cache keeps reruns fast.
    buildOutput = await make(['build-all']);
  }, 1_200_000);

  describe.each(IMAGES)('$name', (image) => {
    const latest = `${image.name}:latest`;

    it('is tagged with the versions it holds', async () => {
      const tags = [...buildOutput.matchAll(new RegExp(`^tagged ${image.name}:(\\S+)$`, 'gm'))].map((m) => m[1]);
      expect(tags).toContain('latest');
      const versioned = tags.find((t) => t !== 'latest');
      const versions = await runIn(
        latest,
        [
          '. /etc/os-release',
          image.python ? `printf 'py%s\\n' "$(python3 -c 'import platform; print(platform.python_version())')"` : 'true',
          image.node ? `printf 'node%s\\n' "$(node --version | sed s/^v//)"` : 'true',
          'echo "$VERSION_CODENAME"',
        ].join('; '),
      );
      const [first = '', second = '', codename = ''] = versions.trim().split('\n');
      const expected = image.python && image.node ? `${first}-${second}-${codename}` : `${first.replace(/^(py|node)/, '')}-${second}`;
      expect(versioned).toBe(expected);
      const ids = await Promise.all([latest, `${image.name}:${versioned}`].map((ref) => dockerCli(['image', 'inspect', '-f', '{{.Id}}', ref])));
      expect(ids[0]).toBe(ids[1]);
    });

    it('keeps the image contract: uid 65532, /bin/sh, a writable /workspace, the label, no ports', async () => {
      const out = await runIn(
        latest,
        'id -u; id -g; pwd; ls -l /bin/sh >/dev/null && echo has-sh; touch /workspace/probe && echo writable; stat -c %u /workspace; echo "setuid:$(find / -xdev -type f -perm /6000 2>/dev/null)"',
      );
      expect(out.trim().split('\n')).toEqual([String(SANDBOX_UID), String(SANDBOX_UID), '/workspace', 'has-sh', 'writable', String(SANDBOX_UID), 'setuid:']);

      const info = await docker.getImage(latest).inspect();
      expect(info.Config.Labels?.['io.sandboxshift.contract']).toBe('1');
      expect(info.Config.Labels?.['org.opencontainers.image.title']).toBe(image.name);
      expect(info.Config.ExposedPorts ?? {}).toEqual({});
      expect(info.Config.User).toBe(`${SANDBOX_UID}:${SANDBOX_UID}`);
      expect(info.Config.Entrypoint).toEqual(['/usr/local/bin/sandboxshift-entrypoint']);
      expect(info.Config.Cmd).toEqual(['sleep', 'infinity']);
    });

    it('runs the runtimes it names, and only those', async () => {
      // Debian's npm needs python3 itself (node-gyp), so the node image has an interpreter,
      // but not pip or venv: those mark the Python runtime.
      const out = await runIn(
        latest,
        [
          image.python ? `python3 -c 'print(6 * 7)'` : 'true',
          `python3 -m pip --version >/dev/null 2>&1 && echo pip || echo no-pip`,
          `python3 -m venv /tmp/venv >/dev/null 2>&1 && /tmp/venv/bin/pip --version >/dev/null && echo venv || echo no-venv`,
          `node -e 'console.log(6 * 7)' 2>/dev/null || echo no-node`,
          `npm --version >/dev/null 2>&1 && echo npm || echo no-npm`,
        ].join('; '),
      );
      expect(out.trim().split('\n')).toEqual([...(image.python ? ['42', 'pip', 'venv'] : ['no-pip', 'no-venv']), ...(image.node ? ['42', 'npm'] : ['no-node', 'no-npm'])]);
    });

    it('turns /run/secrets files into variables of the process, never of the container', async () => {
      const key = `sk-${randomBytes(12).toString('hex')}`;
      const token = `gh-${randomBytes(8).toString('hex')}`;
      const { output, env, exitCode } = await runWithSecrets(
        latest,
        { anthropic_api_key: `${key}\n`, 'github.token': token },
        'for v in ANTHROPIC_API_KEY GITHUB_TOKEN; do eval "x=\\${$v-}"; if [ -n "$x" ]; then echo "$v set ${#x}"; else echo "$v unset"; fi; done; id -u',
      );
      expect(exitCode).toBe(0);
      expect(output.trim().split('\n')).toEqual([`ANTHROPIC_API_KEY set ${key.length}`, `GITHUB_TOKEN set ${token.length}`, String(SANDBOX_UID)]);
      expect(output).not.toContain(key);
      expect(env.join('\n')).not.toContain(key);
      expect(env.some((e) => e.startsWith('ANTHROPIC_API_KEY='))).toBe(false);
    });

    it('starts without /run/secrets', async () => {
      const out = await runIn(latest, 'test -e /run/secrets && echo present || echo absent; echo ran');
      expect(out.trim().split('\n')).toEqual(['absent', 'ran']);
    });
  });

  it('reads secrets under gVisor too (runsc, every capability dropped)', async () => {
    const key = `sk-${randomBytes(12).toString('hex')}`;
    const { output, env } = await runWithSecrets('sandboxshift/runtime-python:latest', { anthropic_api_key: key }, 'echo "${#ANTHROPIC_API_KEY}"', ['--runtime', 'runsc']);
    expect(output.trim()).toBe(String(key.length));
    expect(env.join('\n')).not.toContain(key);
  });
});
