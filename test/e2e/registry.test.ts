// Private registries against a real one: Debian's docker-registry with htpasswd authentication
// on 127.0.0.1 (the engine allows loopback registries without TLS), started by this file. The
// images are pushed with the docker CLI under a DOCKER_CONFIG of our own (the host's config is
// untouched), then removed from the engine so that SandboxShift has to pull them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, docker, dockerCli, execIn, testProject, TEST_IMAGE, type TestProject } from './harness.js';
import { freePort, registryImageConfig, removeImagesOf, startRegistry, type RegistryServer } from './registry-server.js';

const DOCKERD_LOG = '/var/tmp/sandboxshift/dockerd.log';
const USER = 'ss-e2e';
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

describe('private registries: pull with credentials, digests, failure modes', () => {
  const root = mkdtempSync(join(tmpdir(), 'ss-registry-'));
  const dockerConfig = join(root, 'docker-config');
  const repo = `e2e/bb-${randomBytes(3).toString('hex')}`;
  let port = 0;
  let registry: RegistryServer | undefined;
  let ref = '';
  let logSizeBefore = 0;
  const images: string[] = [];
  const projects: TestProject[] = [];
  const env = { REG_USER: USER, REG_PASSWORD: PASSWORD };

  /** The docker CLI with our own config folder, so `login` never touches the host's. */
  const dockerAs = (args: string[], input?: string) => execFileSync('docker', ['--config', dockerConfig, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

  /** Builds FROM the test image with `extra` Dockerfile lines, pushes it as ref, and returns its local image ID. */
  function pushVariant(tag: string, extra: string): string {
    const ctx = join(root, `ctx-${tag}-${randomBytes(2).toString('hex')}`);
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${TEST_IMAGE}\n${extra}\n`);
    const target = `127.0.0.1:${port}/${repo}:${tag}`;
    dockerAs(['build', '-q', '-t', target, ctx]);
    dockerAs(['push', target]);
    const id = dockerAs(['image', 'inspect', '--format', '{{.Id}}', target]).trim();
    images.push(id);
    return id;
  }

  const project = (label: string, imageYaml: string) => {
    const p = testProject(label, registryImageConfig(imageYaml));
    projects.push(p);
    return p;
  };
  const withSecret = (r: string, pull = 'always') => `    ref: ${r}\n    pull: ${pull}\n    pullSecret: { username: { fromEnv: REG_USER }, password: { fromEnv: REG_PASSWORD } }`;

  beforeAll(async () => {
    if (existsSync(DOCKERD_LOG)) logSizeBefore = statSync(DOCKERD_LOG).size;
    mkdirSync(dockerConfig);
    registry = await startRegistry(root, USER, PASSWORD);
    port = registry.port;
    dockerAs(['login', '-u', USER, '--password-stdin', `127.0.0.1:${port}`], PASSWORD);
    pushVariant('1', 'LABEL io.sandboxshift.test-variant="1"');
    pushVariant('root', 'USER 0');
    pushVariant('v0', 'LABEL io.sandboxshift.contract="0"');
    pushVariant('nows', 'USER 0\nRUN chown 0:0 /workspace && chmod 755 /workspace\nUSER 65532:65532');
    ref = `127.0.0.1:${port}/${repo}:1`;
    // The engine must pull them: no local tag is left.
    await dockerCli(['rmi', '--force', ...['1', 'root', 'v0', 'nows'].map((t) => `127.0.0.1:${port}/${repo}:${t}`)]);
  }, 300_000);

  afterAll(async () => {
    for (const p of projects) await p.cleanup();
    try {
      dockerAs(['logout', `127.0.0.1:${port}`]);
    } catch {
      // already logged out
    }
    registry?.stop();
    for (const id of images)
      await docker
        .getImage(id)
        .remove({ force: true })
        .catch(() => undefined);
    await removeImagesOf(docker, `127.0.0.1:${port}/${repo}`);
    rmSync(root, { recursive: true, force: true });
  }, 300_000);

  it('plans the pull with the digest the registry names, pulls it with the pullSecret and runs it', async () => {
    const p = project('reg-pull', withSecret(ref));
    const planned = await p.run(['plan'], { env });
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    expect(planned.stdout).toMatch(new RegExp(`\\+ image\\.app will be pulled\\n {6}ref: {7}${ref.replace(/[.]/g, '\\.')}\\n {6}digest: {4}sha256:[0-9a-f]{64}\\n {6}because: {3}pull `));
    expect(planned.stdout).toContain('Plan: 1 to pull, 1 to add, 0 to change, 0 to destroy.');
    const json = await p.run(['plan', '--json'], { env });
    const digest = (JSON.parse(json.stdout) as { resource_changes: Array<{ address: string; digest?: string; steps: string[] }> }).resource_changes.find((c) => c.address === 'image.app');
    expect(digest?.steps).toEqual(['pull-image', 'verify-image']);
    expect(digest?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const md = await p.run(['plan', '--format', 'markdown'], { env });
    expect(md.stdout).toContain('| `image.app` | pull |');
    expect(md.stdout).toContain(`+ image: ${ref} @ ${digest?.digest}`);

    const applied = await p.run(['apply', '--auto-approve'], { env });
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toContain(`Digest: ${digest?.digest}`);
    expect(applied.stdout).toMatch(/image\.app: Pulling\.\.\.\n[\s\S]*image\.app: Pull complete after [\d.]+s/);
    expect(applied.stdout).toContain('Apply complete! Resources: 1 pulled, 1 added, 0 changed, 0 destroyed.');
    expect(applied.stdout).not.toContain('built');
    expect(await execIn(containerOf(p.name, 'dev'), ['sh', '-c', 'echo kept > /workspace/note && id -u'])).toBe('65532\n');
    const again = await p.run(['plan', '--detailed-exitcode'], { env });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('No changes.');

    // The tag moves: another image is pushed to it; the engine still has the old one under the tag.
    const oldId = (await docker.getImage(ref).inspect()).Id;
    pushVariant('1', 'LABEL io.sandboxshift.test-variant="2"');
    await dockerCli(['tag', oldId, ref]);
    const moved = await p.run(['plan'], { env });
    expect(moved.code, moved.stdout + moved.stderr).toBe(0);
    expect(moved.stdout).toMatch(/\+ image\.app will be pulled[\s\S]*because: {3}image digest changed: .* now points to sha256:[0-9a-f]{12} \(the engine has sha256:[0-9a-f]{12}\)/);
    expect(moved.stdout).toMatch(
      /-\/\+ environment\.dev must be replaced\n {6}because: {3}image digest changed: .* now points to sha256:[0-9a-f]{12} \(container runs sha256:[0-9a-f]{12}\)\n {6}data: {6}new container; \/workspace kept/,
    );
    const replaced = await p.run(['apply', '--auto-approve'], { env });
    expect(replaced.code, replaced.stdout + replaced.stderr).toBe(0);
    const c = containerOf(p.name, 'dev');
    expect(await execIn(c, ['cat', '/workspace/note'])).toBe('kept\n');
    expect((await docker.getContainer(c).inspect()).Config.Labels['io.sandboxshift.test-variant']).toBe('2');

    // The credentials are in no output, plan file, label or engine log.
    const saved = join(p.dir, 'saved.plan');
    const outFile = await p.run(['plan', '--out', saved], { env });
    expect(outFile.code, outFile.stderr).toBe(0);
    const inspect = JSON.stringify(await docker.getContainer(c).inspect());
    const basic = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    for (const text of [planned.stdout, planned.stderr, json.stdout, md.stdout, applied.stdout, applied.stderr, moved.stdout, replaced.stdout, replaced.stderr, readFileSync(saved, 'utf8'), inspect]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(basic);
    }
  }, 600_000);

  it('a ref with both a tag and a digest is pulled once: the engine lists it under REPO@DIGEST, and the next plan has no changes', async () => {
    pushVariant('pin', 'LABEL io.sandboxshift.test-variant="pin"');
    const tagged = `127.0.0.1:${port}/${repo}:pin`;
    const digest = dockerAs(['image', 'inspect', '--format', '{{index .RepoDigests 0}}', tagged]).trim().split('@')[1] ?? '';
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    await dockerCli(['rmi', '--force', tagged]);
    const pinned = `${tagged}@${digest}`;
    const p = project('reg-pin', withSecret(pinned, 'if-not-present'));
    const applied = await p.run(['apply', '--auto-approve'], { env });
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toContain('Apply complete! Resources: 1 pulled, 1 added, 0 changed, 0 destroyed.');
    const again = await p.run(['plan', '--detailed-exitcode'], { env });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('No changes.');
  }, 300_000);

  it('reads the credentials from a Docker config.json (dockerConfig)', async () => {
    const file = join(root, 'pull-config.json');
    writeFileSync(file, JSON.stringify({ auths: { [`127.0.0.1:${port}`]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }));
    const p = project('reg-cfg', `    ref: 127.0.0.1:${port}/${repo}:1\n    pull: always\n    pullSecret: { dockerConfig: { fromFile: ${file} } }`);
    const r = await p.run(['plan']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/image: {5}127\.0\.0\.1:\d+\/e2e\/bb-[0-9a-f]+:1 @ sha256:[0-9a-f]{64}/);
  }, 300_000);

  it('a wrong password is a plan error at the pullSecret with advice, and nothing is created', async () => {
    const p = project('reg-401', withSecret(ref));
    const r = await p.run(['plan'], { env: { ...env, REG_PASSWORD: 'not-the-password' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: registry 127.0.0.1:${port} refused the credentials for images.app (${ref}): unauthorized (at images.app.pullSecret)`);
    expect(r.stderr).toContain("hint: the pullSecret's user or password is wrong");
    expect(r.stderr).not.toContain('not-the-password');
    const a = await p.run(['apply', '--auto-approve'], { env: { ...env, REG_PASSWORD: 'not-the-password' } });
    expect(a.code).toBe(1);
    expect(await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`] } })).toEqual([]);
  }, 300_000);

  it('no pullSecret for a private registry: the error says to add one', async () => {
    const p = project('reg-anon', `    ref: ${ref}\n    pull: always`);
    const r = await p.run(['plan']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: registry 127.0.0.1:${port} refused the credentials for images.app (${ref}): unauthorized (at images.app.ref)`);
    expect(r.stderr).toContain('hint: add pullSecret:');
  }, 300_000);

  it('a missing tag is a plan error naming the reference', async () => {
    const missing = `127.0.0.1:${port}/${repo}:no-such-tag`;
    const p = project('reg-404', withSecret(missing, 'if-not-present'));
    const r = await p.run(['plan'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: tag missing: registry 127.0.0.1:${port} has no ${missing} (images.app) (at images.app.ref)`);
  }, 300_000);

  it('a pinned digest the registry does not have is a digest mismatch', async () => {
    const pinned = `127.0.0.1:${port}/${repo}@sha256:${'0'.repeat(64)}`;
    const p = project('reg-dig', withSecret(pinned, 'if-not-present'));
    const r = await p.run(['plan'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: digest mismatch: registry 127.0.0.1:${port} has no manifest sha256:000000000000 for images.app (${pinned}) (at images.app.ref)`);
  }, 300_000);

  it('an unreachable registry is a plan error with advice', async () => {
    const down = await freePort();
    const gone = `127.0.0.1:${down}/${repo}:1`;
    const p = project('reg-down', withSecret(gone));
    const r = await p.run(['plan'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: registry 127.0.0.1:${down} is unreachable for images.app (${gone}):`);
    expect(r.stderr).toContain('connection refused');
    expect(r.stderr).toContain(`hint: check that the registry is up and that the engine's host can reach 127.0.0.1:${down}; or set pull: if-not-present`);
  }, 300_000);

  /** No container of the project, and the engine has no image under `r`: nothing applied, nothing pulled. */
  async function nothingApplied(p: TestProject, r: string): Promise<void> {
    expect(await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`] } })).toEqual([]);
    expect(await docker.listImages({ filters: { reference: [r] } })).toEqual([]);
  }

  /** Plans a project on TAG of the pushed repository: a plan error for the contract RULE, read from the registry, and nothing applied. */
  async function refusedAtPlan(label: string, tag: string, rule: string) {
    const r = `127.0.0.1:${port}/${repo}:${tag}`;
    const p = project(label, withSecret(r, 'if-not-present'));
    const planned = await p.run(['plan'], { env });
    expect(planned.code, planned.stdout + planned.stderr).toBe(1);
    expect(planned.stderr).toContain(`error: image contract: image ${r} ${rule} (image 'app', on registry 127.0.0.1:${port} at sha256:`);
    expect(planned.stderr).toMatch(/ at sha256:[0-9a-f]{12}, wanted by dev\) \(at images\.app\.ref\)\n {2}hint: /);
    await nothingApplied(p, r);
    return { p, planned, ref: r };
  }

  it('a pulled image that runs as root is a plan error naming the image and the rule, read from the registry; apply makes and pulls nothing', async () => {
    const { p, planned, ref: root } = await refusedAtPlan('reg-root', 'root', 'runs as root (USER 0)');
    expect(planned.stderr).toContain('hint: add `USER 65532:65532` (a non-root numeric user) to its Dockerfile, push it again and point ref at it; nothing was pulled');
    const a = await p.run(['apply', '--auto-approve'], { env });
    expect(a.code).toBe(1);
    expect(a.stderr).toContain(`error: image contract: image ${root} runs as root (USER 0)`);
    expect(a.stdout).not.toContain('Pulling');
    await nothingApplied(p, root);
    for (const text of [planned.stdout, planned.stderr, a.stdout, a.stderr]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
    }
  }, 300_000);

  it('a pulled image with another contract label is a plan error; allowContractMismatch turns it into a warning', async () => {
    const { planned, ref: v0 } = await refusedAtPlan('reg-v0', 'v0', 'declares contract 0, this version needs contract 1');
    expect(planned.stderr).toContain('hint: label it `LABEL io.sandboxshift.contract="1"` once it meets the contract, or set allowContractMismatch: true on the environment');
    const q = testProject(
      'reg-v0-ok',
      `
version: 1
project: {{project}}
images:
  app:
${withSecret(v0, 'if-not-present')}
environments:
  dev: { image: app, command: "sleep 3600", allowContractMismatch: true, resources: { cpus: 0.25, memory: 32m, pids: 32 } }
`,
    );
    projects.push(q);
    const ok = await q.run(['plan'], { env });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('+ image.app will be pulled');
    expect(ok.stdout).toContain(`warning: image ${v0} declares contract 0, this version needs contract 1; accepted by allowContractMismatch for dev (at images.app.ref)`);
  }, 300_000);

  it("an OCI index: plan reads the config of the engine's platform's manifest", async () => {
    const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    const v2 = 'application/vnd.docker.distribution.manifest.v2+json';
    const manifestOf = async (tag: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/v2/${repo}/manifests/${tag}`, { headers: { authorization: basic, accept: v2 } });
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      return { mediaType: v2, digest: res.headers.get('docker-content-digest')!, size: body.length };
    };
    const { Os, Arch } = (await docker.version()) as { Os: string; Arch: string };
    const other = Arch === 'arm64' ? 'amd64' : 'arm64';
    // The manifest that keeps the contract comes first, for another platform: the one picked must be the engine's.
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { ...(await manifestOf('1')), platform: { os: Os, architecture: other } },
        { ...(await manifestOf('root')), platform: { os: Os, architecture: Arch } },
      ],
    };
    const put = await fetch(`http://127.0.0.1:${port}/v2/${repo}/manifests/multi`, {
      method: 'PUT',
      headers: { authorization: basic, 'content-type': 'application/vnd.oci.image.index.v1+json' },
      body: JSON.stringify(index),
    });
    expect(put.status, await put.text()).toBe(201);
    await refusedAtPlan('reg-index', 'multi', 'runs as root (USER 0)');
  }, 300_000);

  it('a pulled image whose config keeps the contract but whose /workspace its USER cannot write fails at verify-image, before any environment is created', async () => {
    const nows = `127.0.0.1:${port}/${repo}:nows`;
    const p = project('reg-contract', withSecret(nows, 'if-not-present'));
    const planned = await p.run(['plan'], { env });
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    const r = await p.run(['apply', '--auto-approve'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/image\.app: Pull FAILED after [\d.]+s at step verify-image: image contract broken: .*has no \/workspace writable by its own USER 65532:65532/);
    expect(await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=environment'] } })).toEqual([]);
  }, 300_000);

  it('build.push pushes the built image under its content tag, shows the digest, and another project pulls exactly it', async () => {
    const p = testProject(
      'reg-push',
      `
version: 1
project: {{project}}
images:
  app:
    build:
      context: ./ctx
      push: 127.0.0.1:${port}/${repo}-built
      pushSecret: { username: { fromEnv: REG_USER }, password: { fromEnv: REG_PASSWORD } }
environments:
  dev: { image: app, command: "sleep 3600", resources: { cpus: 0.25, memory: 32m, pids: 32 } }
`,
    );
    projects.push(p);
    mkdirSync(join(p.dir, 'ctx'));
    writeFileSync(join(p.dir, 'ctx', 'Dockerfile'), `FROM ${TEST_IMAGE}\nLABEL io.sandboxshift.test-variant="pushed"\n`);
    const bad = await p.run(['plan'], { env: { ...env, REG_PASSWORD: 'wrong-password' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      new RegExp(`error: registry 127\\.0\\.0\\.1:${port} refused the credentials for pushing images\\.app \\(.*\\): unauthorized \\(at images\\.app\\.build\\.pushSecret\\)`),
    );
    const planned = await p.run(['plan'], { env });
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    const pushRef = new RegExp(`push: {6}(127\\.0\\.0\\.1:${port}/${repo}-built:ctx-[0-9a-f]{12})`).exec(planned.stdout)?.[1];
    expect(pushRef).toBeDefined();
    const applied = await p.run(['apply', '--auto-approve'], { env });
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    const digest = new RegExp(`image\\.app: pushed ${pushRef!.replace(/[.]/g, '\\.')} \\(digest (sha256:[0-9a-f]{64})\\)`).exec(applied.stdout)?.[1];
    expect(digest, applied.stdout).toBeDefined();
    images.push((await docker.getImage(pushRef!).inspect()).Id);
    // Another engine (here: another project, after the pushed tag is gone locally) pulls exactly that digest.
    await dockerCli(['rmi', pushRef!]);
    const q = project('reg-pull-built', withSecret(pushRef!, 'if-not-present'));
    const other = await q.run(['plan'], { env });
    expect(other.code, other.stdout + other.stderr).toBe(0);
    expect(other.stdout).toContain(`digest:    ${digest}`);
    for (const text of [bad.stdout, bad.stderr, planned.stdout, applied.stdout, applied.stderr, other.stdout]) expect(text).not.toContain(PASSWORD);
  }, 600_000);

  it("a push the registry refuses after the engine answered 200 is the apply's error, not a missing digest", async () => {
    // The same storage and user behind a registry that refuses pushes (maintenance mode): plan
    // reads it (the tag is not there yet), apply builds, and the push fails inside its progress.
    const readOnly = await startRegistry(root, USER, PASSWORD, true);
    try {
      const p = testProject(
        'reg-push-ro',
        registryImageConfig(
          `    build:\n      context: ./ctx\n      push: 127.0.0.1:${readOnly.port}/${repo}-ro\n      pushSecret: { username: { fromEnv: REG_USER }, password: { fromEnv: REG_PASSWORD } }`,
        ),
      );
      projects.push(p);
      mkdirSync(join(p.dir, 'ctx'));
      writeFileSync(join(p.dir, 'ctx', 'Dockerfile'), `FROM ${TEST_IMAGE}\nLABEL io.sandboxshift.test-variant="read-only"\n`);
      const applied = await p.run(['apply', '--auto-approve'], { env });
      expect(applied.code, applied.stdout + applied.stderr).toBe(1);
      expect(applied.stdout).toMatch(new RegExp(`push 127\\.0\\.0\\.1:${readOnly.port}/${repo}-ro:ctx-[0-9a-f]{12} failed \\(\\w+\\): .*HTTP 405 .*Method not allowed`));
      expect(applied.stdout).not.toContain('reported no digest');
      expect(applied.stdout).toContain('environment.dev: skipped (depends on image.app, which failed)');
      expect(applied.stdout + applied.stderr).not.toContain(PASSWORD);
    } finally {
      readOnly.stop();
      await removeImagesOf(docker, `127.0.0.1:${readOnly.port}/${repo}-ro`);
      await removeImagesOf(docker, `sandboxshift/${projects.at(-1)!.name}-app`);
    }
  }, 600_000);

  it('the password never reached the engine log', () => {
    expect(existsSync(DOCKERD_LOG)).toBe(true);
    const log = readFileSync(DOCKERD_LOG).subarray(logSizeBefore).toString('utf8');
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
  });
});
