// Images as part of plan/apply: content-hashed builds, replacement on rebuild with /workspace
// kept, image: auto, workspace seeding, and the image contract refusing broken images.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, docker, dockerCli, execIn, gitSeedRepo, testProject, type TestProject } from './harness.js';

const write = (dir: string, files: Record<string, string>) => {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
};

describe('built images in plan and apply', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject(
      'build',
      `
version: 1
project: {{project}}
images:
  custom: { build: { context: ./ctx } }
environments:
  worker: { image: custom, resources: { memory: 32m, pids: 32 } }
`,
    );
    write(p.dir, {
      'ctx/Dockerfile': 'FROM sandboxshift/busybox:test\nCOPY tool.sh /opt/tool.sh\nRUN echo built > /tmp/marker\n',
      'ctx/tool.sh': 'echo v1\n',
      'ctx/notes.log': 'ignored\n',
      'ctx/.dockerignore': '*.log\n',
    });
  });
  afterAll(async () => {
    await p.cleanup();
    const imgs = await docker.listImages({ filters: { label: [`io.sandboxshift.project=${p.name}`] } });
    for (const i of imgs) await docker.getImage(i.Id).remove({ force: true });
  });

  it('plans the build first and streams build steps as progress', async () => {
    const planned = await p.run(['plan']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toMatch(/\+ image\.custom will be built\n {6}tag: {7}sandboxshift\/e2e-build-[0-9a-f]+-custom:ctx-[0-9a-f]{12}\n {6}because: {3}not built yet/);
    expect(planned.stdout).toContain('Plan: 1 to build, 1 to add, 0 to change, 0 to destroy.');
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('image.custom: Building...');
    expect(r.stdout).toMatch(/image\.custom: Step 2\/\d+ : COPY tool\.sh \/opt\/tool\.sh/);
    expect(r.stdout).not.toContain('LABEL io.sandboxshift');
    expect(r.stdout).toContain('Apply complete! Resources: 1 built, 1 added, 0 changed, 0 destroyed.');
    expect(await execIn(containerOf(p.name, 'worker'), ['sh', '/opt/tool.sh'])).toBe('v1\n');
  });

  it('does not rebuild an unchanged context, nor for an ignored file', async () => {
    writeFileSync(join(p.dir, 'ctx/notes.log'), 'changed but ignored\n');
    const r = await p.run(['plan', '--detailed-exitcode']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('No changes. 1 environment matches the configuration.');
  });

  it('rebuilds on a context change, names the file, and replaces the environment keeping /workspace', async () => {
    await execIn(containerOf(p.name, 'worker'), ['sh', '-c', 'echo keep-me > /workspace/state.txt']);
    writeFileSync(join(p.dir, 'ctx/tool.sh'), 'echo v2\n');
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain('because:   context changed: tool.sh');
    expect(planned.stdout).toContain('-/+ environment.worker must be replaced');
    expect(planned.stdout).toMatch(/because: {3}image rebuilt: sandboxshift\/e2e-build-[0-9a-f]+-custom:ctx-/);
    expect(planned.stdout).toContain('data:      new container; /workspace kept');
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await execIn(containerOf(p.name, 'worker'), ['sh', '/opt/tool.sh'])).toBe('v2\n');
    expect(await execIn(containerOf(p.name, 'worker'), ['cat', '/workspace/state.txt'])).toBe('keep-me\n');
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('builds without applying, and names the failing step of a broken build', async () => {
    writeFileSync(join(p.dir, 'ctx/Dockerfile'), 'FROM sandboxshift/busybox:test\nCOPY tool.sh /opt/tool.sh\nRUN exit 3\n');
    const r = await p.run(['images', 'build']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/image\.custom: Build FAILED after [\d.]+s at step build-image: build failed at Step 3\/\d+ : RUN exit 3: The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/);
    writeFileSync(join(p.dir, 'ctx/Dockerfile'), 'FROM sandboxshift/busybox:test\nCOPY tool.sh /opt/tool.sh\n');
    const ok = await p.run(['images', 'build']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('Build complete! Resources: 1 built, 0 added, 0 changed, 0 destroyed.');
    const again = await p.run(['images', 'build', 'custom']);
    expect(again.stdout).toMatch(/image\.custom: up to date \(sandboxshift\/e2e-build-[0-9a-f]+-custom:ctx-/);
    // The environment still runs the old build until apply replaces it.
    expect((await p.run(['plan'])).stdout).toContain('-/+ environment.worker must be replaced');
  });
});

describe('a build context that cannot be sent as it is', () => {
  let p: TestProject;
  // A hang (a FIFO opened for reading) fails the test in seconds instead of stalling the run.
  const T = { timeoutMs: 30_000 };
  const config = (dockerfile?: string) => `
version: 1
project: {{project}}
images:
  app: { build: { context: ./docker${dockerfile ? `, dockerfile: ${dockerfile}` : ''} } }
environments:
  one: { image: app, resources: { memory: 32m, pids: 32 } }
`;
  beforeAll(() => {
    p = testProject('fifo', config());
    write(p.dir, { 'docker/Dockerfile': 'FROM sandboxshift/busybox:test\nCOPY . /ctx\n' });
  });
  afterAll(async () => {
    await p.cleanup();
    const imgs = await docker.listImages({ filters: { label: [`io.sandboxshift.project=${p.name}`] } });
    for (const i of imgs) await docker.getImage(i.Id).remove({ force: true });
  });

  it('with a FIFO is refused by plan and apply, naming the file; status and destroy do not read it', async () => {
    const made = await p.run(['apply', '--auto-approve'], T);
    expect(made.code, made.stdout + made.stderr).toBe(0);
    const saved = await p.run(['plan', '--out', 'saved.plan'], T);
    expect(saved.code, saved.stderr).toBe(0);
    const ctx = join(p.dir, 'docker');
    execFileSync('mkfifo', [join(ctx, 'fifo')]);
    const error =
      `${p.file}: error: image 'app': build context ${ctx} holds fifo, which is a FIFO (named pipe): a build context may hold only folders, files and symlinks (at images.app.build)\n` +
      `  hint: remove fifo from the context, or list it in ${ctx}/.dockerignore\n`;
    for (const cmd of [['plan'], ['apply', '--auto-approve'], ['apply', 'saved.plan'], ['images', 'build']]) {
      const r = await p.run(cmd, T);
      expect(r.stderr, cmd.join(' ')).toBe(error);
      expect(r.code, cmd.join(' ')).toBe(1);
    }
    const status = await p.run(['status'], T);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^one +running /m);
    const down = await p.run(['destroy', '--auto-approve'], T);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain('Destroy complete! Resources: 0 added, 0 changed, 1 destroyed.');
    expect(await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=environment'] } })).toEqual([]);
    // Listed in .dockerignore, it is neither read nor sent.
    writeFileSync(join(ctx, '.dockerignore'), 'fifo\n');
    const ok = await p.run(['apply', '--auto-approve'], T);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('Apply complete! Resources: 1 built, 1 added, 0 changed, 0 destroyed.');
  });

  it('calls a Dockerfile outside the context outside, not missing', async () => {
    writeFileSync(join(p.dir, 'Dockerfile.outside'), 'FROM sandboxshift/busybox:test\n');
    const ctx = join(p.dir, 'docker');
    for (const dockerfile of ['../Dockerfile.outside', join(p.dir, 'Dockerfile.outside')]) {
      p.write(config(dockerfile));
      const r = await p.run(['plan'], T);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toBe(
        `${p.file}: error: image 'app': Dockerfile ${dockerfile} is outside the build context ${ctx}: the engine reads the Dockerfile from inside the context it is sent (at images.app.build)\n` +
          `  hint: fix images.NAME.build.context (relative to the config file) or dockerfile\n`,
      );
    }
  });
});

describe('image: auto and workspace seeding', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject(
      'seed',
      `
version: 1
project: {{project}}
images:
  python: { ref: sandboxshift/busybox:test }
  default: { ref: sandboxshift/busybox:test }
defaults:
  resources: { memory: 32m, pids: 32 }
environments:
  py: { image: auto, workspace: { from: ./py-app } }
  js: { image: auto, workspace: { git: { url: ./repo.git, ref: v1 } } }
`,
    );
    write(p.dir, { 'py-app/requirements.txt': 'flask\n', 'py-app/src/main.py': 'print("hi")\n' });
    gitSeedRepo(p.dir, { 'package.json': '{"name":"x"}\n', 'index.js': 'console.log(1)\n' }, { 'index.js': 'console.log(2)\n' });
  });
  afterAll(async () => p.cleanup());

  it('says which marker chose the image', async () => {
    const r = await p.run(['plan']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('image:     sandboxshift/busybox:test (auto: requirements.txt → python)');
    expect(r.stdout).toContain('image:     sandboxshift/busybox:test (auto: git workspace, not inspected before cloning → default)');
    expect(r.stdout).toContain('workspace: new volume');
    expect(r.stdout).toContain(`workspace: new volume ss.${p.name}.py.workspace, seeded once from folder ${join(p.dir, 'py-app')}`);
    expect(r.stdout).toContain(`workspace: new volume ss.${p.name}.js.workspace, seeded once from git ${join(p.dir, 'repo.git')}@v1`);
  });

  it('seeds a new workspace from a folder and from a git ref, owned by the user', async () => {
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/environment\.py: seeded \/workspace with 2 files from .*py-app/);
    const py = containerOf(p.name, 'py');
    expect(await execIn(py, ['cat', '/workspace/src/main.py'])).toBe('print("hi")\n');
    expect(await execIn(py, ['stat', '-c', '%u:%g', '/workspace/src/main.py', '/workspace/src'])).toBe('65532:65532\n65532:65532\n');
    const js = containerOf(p.name, 'js');
    expect(await execIn(js, ['cat', '/workspace/index.js'])).toBe('console.log(1)\n');
    expect(await execIn(js, ['sh', '-c', 'test -d /workspace/.git && echo repo'])).toBe('repo\n');
  });

  it('never seeds over an existing workspace', async () => {
    const py = containerOf(p.name, 'py');
    await execIn(py, ['sh', '-c', 'echo mine > /workspace/src/main.py']);
    writeFileSync(join(p.dir, 'py-app/src/main.py'), 'print("new seed")\n');
    p.write(`
version: 1
project: {{project}}
images:
  python: { ref: sandboxshift/busybox:test }
  default: { ref: sandboxshift/busybox:test }
defaults:
  resources: { memory: 32m, pids: 32 }
environments:
  py: { image: auto, workspace: { from: ./py-app }, env: { CHANGED: "1" } }
  js: { image: auto, workspace: { git: { url: ./repo.git, ref: v1 } } }
`);
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toContain('seeded');
    expect(await execIn(containerOf(p.name, 'py'), ['cat', '/workspace/src/main.py'])).toBe('mine\n');
  });
});

describe('the image contract', () => {
  const broken: Record<string, string> = {
    root: 'FROM sandboxshift/busybox:test\nUSER 0\n',
    noshell: 'FROM scratch\nCOPY --from=sandboxshift/busybox:test /bin/busybox /busybox\nUSER 65532:65532\nLABEL io.sandboxshift.contract="1"\nCMD ["/busybox", "sleep", "1000"]\n',
    noworkspace: 'FROM sandboxshift/busybox:test\nUSER 0\nRUN rm -rf /workspace\nUSER 65532:65532\n',
    v2: 'FROM sandboxshift/busybox:test\nLABEL io.sandboxshift.contract="2"\n',
  };
  let p: TestProject;
  const config = (image: string, extra = '') => `
version: 1
project: {{project}}
images:
  img: { ref: sandboxshift/contract-test:${image} }
environments:
  e: { image: img, resources: { memory: 32m, pids: 32 }${extra} }
`;
  beforeAll(async () => {
    p = testProject('contract', config('root'));
    for (const [tag, dockerfile] of Object.entries(broken)) {
      const dir = join(p.dir, `img-${tag}`);
      write(dir, { Dockerfile: dockerfile });
      await dockerCli(['build', '-q', '-t', `sandboxshift/contract-test:${tag}`, dir], 120_000);
    }
  });
  afterAll(async () => {
    await p.cleanup();
    for (const tag of Object.keys(broken)) await docker.getImage(`sandboxshift/contract-test:${tag}`).remove({ force: true });
  });

  it.each([
    ['root', 'image sandboxshift/contract-test:root runs as root (USER 0)', 'add `USER 65532:65532`'],
    ['noshell', 'image sandboxshift/contract-test:noshell has no shell at /bin/sh', 'POSIX shell'],
    ['noworkspace', 'image sandboxshift/contract-test:noworkspace has no /workspace writable by its own USER 65532:65532', 'install -d -o 65532 -g 65532 /workspace'],
    ['v2', 'image sandboxshift/contract-test:v2 declares contract 2, this version needs contract 1', 'allowContractMismatch'],
  ])('refuses %s at plan time, naming the image, the rule and the fix, creating nothing', async (tag, message, fix) => {
    p.write(config(tag));
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = await p.run(cmd);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: image contract: ${message}`);
      expect(r.stderr).toContain(fix);
    }
    const left = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`] } });
    expect(left).toEqual([]);
  });

  it('runs a contract-version mismatch when the environment opts in, with a warning', async () => {
    p.write(config('v2', ', allowContractMismatch: true'));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain('declares contract 2, this version needs contract 1; accepted by allowContractMismatch for e');
  });
});
