// Any non-root `user: "UID:GID"` works on every shipped image, as the built-in 65532 does:
// `whoami` prints a name, $HOME is a home the user owns and can write (for the main process and
// for every `docker exec`), /workspace is writable, git sees no dubious ownership and
// `pip install --user` installs into ~/.local. Set up from outside through the archive API,
// before the first start: nothing inside has a capability or a setuid binary to do it.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxConfig, CLI, containerOf, containerState, docker, dockerCli, sh, testProject, volumeOf, type TestProject } from './harness.js';

const IMAGES_DIR = fileURLToPath(new URL('../../images/', import.meta.url));

/** Each case's main process writes who it is at start, so start time is checked as well as exec. */
const REPORT = 'echo \\"$(id -u) $(whoami) $HOME\\" > /tmp/started; exec sleep 1000000';

const BUSYBOX_CASES = [
  { env: 'u65532', user: '65532:65532', runtime: 'runc', name: 'sandbox', home: '/workspace' },
  { env: 'u1000', user: '1000:1000', runtime: 'runc', name: 'sandbox-1000', home: '/home/sandbox-1000' },
  { env: 'u43210', user: '43210:43210', runtime: 'runc', name: 'sandbox-43210', home: '/home/sandbox-43210' },
  { env: 'gvisor43210', user: '43210:43210', runtime: 'runsc', name: 'sandbox-43210', home: '/home/sandbox-43210' },
] as const;

describe('any user id on the busybox test image (with an extra volume)', () => {
  let p: TestProject;
  beforeAll(async () => {
    const envs = BUSYBOX_CASES.map((c) => `  ${c.env}: { user: "${c.user}", runtime: ${c.runtime}, volumes: { data: /data/agent }, command: "${REPORT}" }`).join('\n');
    p = testProject('anyuid', busyboxConfig(`${envs}\n`, '{ cpus: 0.25, memory: 64m, pids: 64 }'));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
  afterAll(async () => p?.cleanup());

  it.each(BUSYBOX_CASES)('$env ($user under $runtime): whoami, a writable home and /workspace, in docker exec and in the main process', async (c) => {
    const container = containerOf(p.name, c.env);
    const uid = c.user.split(':')[0];
    const r = await sh(container, 'id -u; id -g; whoami; echo "$HOME"; echo home > "$HOME/.probe" && cat "$HOME/.probe"; echo ws > /workspace/probe && cat /workspace/probe; cat /tmp/started');
    expect(r).toEqual({ out: `${uid}\n${uid}\n${c.name}\n${c.home}\nhome\nws\n${uid} ${c.name} ${c.home}\n`, rc: 0 });
    // An extra volume's root is the user's too (a new volume's root would be root's otherwise).
    const owners = await sh(container, `stat -c '%u:%g %a' /workspace "$HOME" /data/agent; echo s > /data/agent/session && cat /data/agent/session`);
    expect(owners).toEqual({ out: `${c.user} 755\n${c.user} 755\n${c.user} 755\ns\n`, rc: 0 });
  });

  it('plans nothing after the apply: the setup is no drift', async () => {
    const r = await p.run(['plan', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('runs with no capabilities and no-new-privileges, as always', async () => {
    const info = await docker.getContainer(containerOf(p.name, 'u43210')).inspect();
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges:true']);
    expect(info.Config.User).toBe('43210:43210');
  });
});

describe('a user change, a seeded workspace and an adopted one', () => {
  let p: TestProject;
  const config = (user: string, adoptUser = '43210:43210') =>
    busyboxConfig(`  keep: { user: "${user}" }
  seeded: { user: "43210:43210", workspace: { from: ./seed } }
  adopted: { user: "${adoptUser}", workspace: { adopt: true } }
`);
  beforeAll(async () => {
    p = testProject('anyuid-ws', config('65532:65532'));
    mkdirSync(join(p.dir, 'seed', 'sub'), { recursive: true });
    writeFileSync(join(p.dir, 'seed', 'a.txt'), 'a\n');
    writeFileSync(join(p.dir, 'seed', 'sub', 'b.txt'), 'b\n');
    // A volume someone else made, with a file in it and its root owned by uid 7, adopted as it is.
    await docker.createVolume({ Name: volumeOf(p.name, 'adopted') });
    await dockerCli(['run', '--rm', '--user', '0', '-v', `${volumeOf(p.name, 'adopted')}:/w`, 'sandboxshift/busybox:test', 'sh', '-c', 'echo x > /w/theirs && chown 7:7 /w'], 60_000);
  });
  afterAll(async () => {
    await p?.cleanup();
    await docker
      .getVolume(volumeOf(p.name, 'adopted'))
      .remove()
      .catch(() => undefined);
  });

  it('seeds /workspace with files and root owned by 43210, leaves an adopted volume as it is', async () => {
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const seeded = await sh(containerOf(p.name, 'seeded'), `stat -c '%n %u:%g' /workspace /workspace/a.txt /workspace/sub /workspace/sub/b.txt; whoami; touch /workspace/new && echo wrote`);
    expect(seeded).toEqual({ out: '/workspace 43210:43210\n/workspace/a.txt 43210:43210\n/workspace/sub 43210:43210\n/workspace/sub/b.txt 43210:43210\nsandbox-43210\nwrote\n', rc: 0 });
    // The adopted volume keeps its owners, root included; the user still gets a name and a home.
    const adopted = await sh(containerOf(p.name, 'adopted'), `stat -c '%n %u:%g' /workspace /workspace/theirs; whoami; echo "$HOME"; touch "$HOME/x" && echo home-ok`);
    expect(adopted).toEqual({ out: '/workspace 7:7\n/workspace/theirs 0:0\nsandbox-43210\n/home/sandbox-43210\nhome-ok\n', rc: 0 });
  });

  it('a user change gives the new user the root of the kept volume; files inside keep their owners, and the plan says so', async () => {
    const keep = containerOf(p.name, 'keep');
    expect((await sh(keep, 'echo old > /workspace/old.txt && id -u')).out).toBe('65532\n');
    p.write(config('43210:43210'));
    const plan = await p.run(['plan']);
    expect(plan.stdout).toContain('user changed: 65532:65532 → 43210:43210 (the new user gets the root of its volumes, adopted ones excepted; files inside keep their owners)');
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const after = await sh(keep, `stat -c '%n %u:%g' /workspace /workspace/old.txt; whoami; echo new > /workspace/new.txt && cat /workspace/old.txt`);
    expect(after).toEqual({ out: '/workspace 43210:43210\n/workspace/old.txt 65532:65532\nsandbox-43210\nold\n', rc: 0 });
  });
});

function make(target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('make', ['-C', IMAGES_DIR, target, 'BUILD_FLAGS=-q'], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`make ${target}: ${stderr || stdout}`)) : resolve(),
    );
  });
}

async function ensureImage(runtime: string): Promise<string> {
  const ref = `sandboxshift/runtime-${runtime}:latest`;
  try {
    await docker.getImage(ref).inspect();
  } catch {
    await make(`build-${runtime}`);
  }
  return ref;
}

/** printf's format: a setup.py for a one-module package (no index is reachable, none is needed). */
const PIP_SETUP = 'from setuptools import setup\\nsetup(name="uidprobe", version="1.0", py_modules=["uidprobe"])\\n';

describe('any user id on the runtime images', () => {
  let p: TestProject;
  const RUNTIME_CASES = [
    { env: 'py', image: 'python', runtime: 'runc', pip: true },
    { env: 'pygvisor', image: 'python', runtime: 'runsc', pip: true },
    { env: 'node', image: 'node', runtime: 'runc', pip: false },
    { env: 'multi', image: 'multi', runtime: 'runc', pip: true },
  ] as const;
  beforeAll(async () => {
    const refs: Record<string, string> = {};
    for (const r of ['python', 'node', 'multi']) refs[r] = await ensureImage(r);
    const envs = RUNTIME_CASES.map((c) => `  ${c.env}: { image: ${c.image}, user: "43210:43210", runtime: ${c.runtime} }`).join('\n');
    p = testProject(
      'anyuid-rt',
      `
version: 1
project: {{project}}
images:
  python: { ref: ${refs.python} }
  node: { ref: ${refs.node} }
  multi: { ref: ${refs.multi} }
defaults:
  resources: { cpus: 0.5, memory: 256m, pids: 128 }
environments:
${envs}
`,
    );
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 900_000);
  afterAll(async () => p?.cleanup());

  it.each(RUNTIME_CASES)('$env ($image under $runtime) as 43210: whoami, home, git without dubious ownership', async (c) => {
    const container = containerOf(p.name, c.env);
    const r = await sh(
      container,
      [
        'whoami',
        'echo "$HOME"',
        'git config --global user.email a@b.c && git config --global user.name uid',
        // The repository is /workspace itself: git refuses a worktree whose top another uid owns.
        'cd /workspace && git init -q && echo x > f && git add f && git commit -qm one',
        'git status --porcelain && echo clean',
        // (python, not stat or ls: this gVisor answers EINVAL to coreutils' statx; every runtime image has python3)
        `python3 -c 'import os; print(os.stat("/workspace").st_uid, os.stat("/workspace/.git").st_uid)'`,
      ].join(' && '),
    );
    expect(r).toEqual({ out: 'sandbox-43210\n/home/sandbox-43210\nclean\n43210 43210\n', rc: 0 });
  });

  it.each(RUNTIME_CASES.filter((c) => c.pip))('$env ($image under $runtime) as 43210: pip install --user into ~/.local', async (c) => {
    const container = containerOf(p.name, c.env);
    const pkg = '$HOME/uidprobe-pkg';
    const r = await sh(
      container,
      [
        `mkdir -p ${pkg} && printf '${PIP_SETUP}' > ${pkg}/setup.py`,
        `echo 'ANSWER = 42' > ${pkg}/uidprobe.py`,
        // Debian's PEP 668 marker refuses --user installs for every user, 65532 included, unless
        // told; the point here is that the user's ~/.local is theirs to write.
        `pip install -q --user --break-system-packages --no-index --no-build-isolation ${pkg} >/dev/null 2>&1 && echo installed`,
        `cd / && python3 -c 'import uidprobe; print(uidprobe.ANSWER, uidprobe.__file__)'`,
      ].join(' && '),
    );
    expect(r).toEqual({ out: 'installed\n42 /home/sandbox-43210/.local/lib/python3.11/site-packages/uidprobe.py\n', rc: 0 });
  });
});

describe("an id the image already has, whose entry refuses logins (Debian's nobody, 65534)", () => {
  let p: TestProject;
  beforeAll(async () => {
    const node = await ensureImage('node');
    p = testProject(
      'anyuid-nobody',
      `
version: 1
project: {{project}}
images:
  node: { ref: ${node} }
defaults:
  resources: { cpus: 0.5, memory: 256m, pids: 64 }
environments:
  e: { image: node, user: "65534:65534" }
`,
    );
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 600_000);
  afterAll(async () => p?.cleanup());

  it('sandboxshift shell opens /bin/sh instead of its /usr/sbin/nologin', async () => {
    const r = await p.run(['shell', 'e'], { input: 'whoami; echo "$HOME"; cd "$HOME" && touch mine && echo wrote\n' });
    expect({ out: r.stdout, err: r.stderr, code: r.code }).toEqual({ out: 'nobody\n/nonexistent\nwrote\n', err: '', code: 0 });
  });
});

describe('the pi image as 43210 without a volume for /data/agent', () => {
  let p: TestProject;
  beforeAll(async () => {
    p = testProject('anyuid-pi', 'version: 1\nproject: {{project}}\nenvironments:\n  e: { image: pi, user: "43210:43210", resources: { memory: 512m, pids: 128 } }\n');
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 900_000);
  afterAll(async () => p?.cleanup());

  it("pi's data folder (PI_CODING_AGENT_DIR) is writable by the user, as for 65532", async () => {
    const r = await p.run(['exec', 'e', 'sh', '-c', 'echo "$PI_CODING_AGENT_DIR"; mkdir "$PI_CODING_AGENT_DIR/sessions" && touch "$PI_CODING_AGENT_DIR/settings.json" && echo wrote']);
    expect({ out: r.stdout, err: r.stderr, code: r.code }).toEqual({ out: '/data/agent\nwrote\n', err: '', code: 0 });
  });
});

describe('images with odd account files', () => {
  const tag = (what: string) => `sandboxshift/uid-test:${what}-${process.pid}`;
  const dockerfiles: Record<string, string> = {
    'passwd-link': 'FROM sandboxshift/busybox:test\nUSER 0\nRUN mv /etc/passwd /etc/passwd.real && ln -s /etc/passwd.real /etc/passwd\nUSER 65532:65532\n',
    'no-accounts': 'FROM sandboxshift/busybox:test\nUSER 0\nRUN rm /etc/passwd /etc/group\nUSER 65532:65532\n',
  };
  // One project per image, so neither test depends on the other.
  const projects: Record<string, TestProject> = {};
  beforeAll(async () => {
    for (const [what, dockerfile] of Object.entries(dockerfiles)) {
      const p = testProject(`anyuid-${what}`, busyboxConfig('  e: { user: "43210:43210" }\n').replace(`ref: sandboxshift/busybox:test`, `ref: ${tag(what)}`));
      projects[what] = p;
      const dir = join(p.dir, 'image');
      mkdirSync(dir);
      writeFileSync(join(dir, 'Dockerfile'), dockerfile);
      await dockerCli(['build', '-q', '-t', tag(what), dir], 170_000);
    }
  });
  afterAll(async () => {
    for (const [what, p] of Object.entries(projects)) {
      await p.cleanup();
      await docker
        .getImage(tag(what))
        .remove({ force: true })
        .catch(() => undefined);
    }
  });

  it('an image without /etc/passwd and /etc/group gets both, with the user in them', async () => {
    const p = projects['no-accounts']!;
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const who = await sh(containerOf(p.name, 'e'), 'whoami; echo "$HOME"; cat /etc/passwd /etc/group; touch "$HOME/h" /workspace/w && echo wrote');
    expect(who).toEqual({ out: 'sandbox\n/home/sandbox\nsandbox:x:43210:43210:sandbox:/home/sandbox:/bin/sh\nsandbox:x:43210:\nwrote\n', rc: 0 });
  });

  it('an image whose /etc/passwd is a link is refused at create-container with what to fix, and its container never starts', async () => {
    const p = projects['passwd-link']!;
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout + r.stderr).toContain(
      "the image's /etc/passwd is a symlink, not a file: SandboxShift adds the environment's user to it and will not write through a link; make it a regular file in the image",
    );
    const info = await docker.getContainer(containerOf(p.name, 'e')).inspect();
    expect(info.State.StartedAt).toBe('0001-01-01T00:00:00Z');
  });
});

describe('an apply killed between creating a container and setting up its user', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('anyuid-kill', busyboxConfig('  e: { user: "43210:43210" }\n'));
  });
  afterAll(async () => p?.cleanup());

  it('leaves a never-started container, which the next apply replaces with one set up for the user', async () => {
    const child = spawn(process.execPath, [CLI, 'apply', '--auto-approve'], { cwd: p.dir, env: { ...process.env, NO_COLOR: '1', CI: 'true', SANDBOXSHIFT_TEST_PAUSE: 'user-setup' }, stdio: 'ignore' });
    const exited = new Promise((r) => child.on('close', r));
    // Generous: on a loaded engine the plan's contract probe alone can take a while.
    const deadline = Date.now() + 150_000;
    let state: string | null = null;
    while (Date.now() < deadline && state !== 'created') {
      state = await containerState(p.name, 'e');
      if (state !== 'created') await new Promise((r) => setTimeout(r, 50));
    }
    expect(state).toBe('created');
    child.kill('SIGKILL');
    await exited;
    expect(await containerState(p.name, 'e')).toBe('created');
    // The kill landed before the setup: the half-made container has no entry for the user.
    const chunks: Buffer[] = [];
    for await (const chunk of (await docker.getContainer(containerOf(p.name, 'e')).getArchive({ path: '/etc/passwd' })) as AsyncIterable<Buffer>) chunks.push(chunk);
    expect(Buffer.concat(chunks).toString('latin1')).not.toContain(':43210:');
    const locks = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=lock'] } });
    for (const l of locks) await p.run(['unlock', l.Labels['io.sandboxshift.lock.id'] ?? '']);

    // exec, shell and wake never start it as it is (no user entry, /workspace root's): the
    // started container would no longer look interrupted, and apply would keep it so.
    const refusal = "error: environment 'e' was never started: an earlier apply was interrupted before it set it up\n  hint: run sandboxshift apply to finish it\n";
    for (const args of [
      ['exec', 'e', '--', 'true'],
      ['shell', 'e'],
      ['wake', 'e'],
    ]) {
      const r = await p.run(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 1, stderr: refusal });
    }
    expect(await containerState(p.name, 'e')).toBe('created');

    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain('never started: an earlier apply was interrupted or failed before it finished');
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    const r = await sh(containerOf(p.name, 'e'), 'whoami; echo "$HOME"; touch /workspace/w "$HOME/h" && echo wrote');
    expect(r).toEqual({ out: 'sandbox-43210\n/home/sandbox-43210\nwrote\n', rc: 0 });
  });
});
