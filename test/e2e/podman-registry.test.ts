// Private registries on Podman, against a real one (test/e2e/registry-server.ts): Podman's
// Docker-compatible API has no GET /distribution/NAME/json (it answers 404 Not Found without
// asking the registry), so plan asks the registry for the digest itself; and its compatible pull
// cannot reach a registry without TLS, so SandboxShift pulls through Podman's own endpoint, plain
// HTTP only for a loopback registry as Docker allows. The images are pushed by the Docker engine
// (its CLI under a config folder of our own) and are on Podman only once SandboxShift pulls them.
import './use-podman.js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, docker, execIn, requirePodman, testProject, TEST_IMAGE, type TestProject } from './harness.js';
import { registryImageConfig, removeImagesOf, startRegistry, type RegistryServer } from './registry-server.js';

const USER = 'ss-e2e';
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const DOCKER_SOCKET = 'unix:///var/run/docker.sock';

describe('Podman: private registries (plan asks the registry, apply pulls with the pullSecret)', () => {
  const root = mkdtempSync(join(tmpdir(), 'ss-podman-registry-'));
  const dockerConfig = join(root, 'docker-config');
  const repo = `e2e/pbb-${randomBytes(3).toString('hex')}`;
  let registry: RegistryServer | undefined;
  let ref = '';
  let pushed = '';
  const projects: TestProject[] = [];
  const env = { REG_USER: USER, REG_PASSWORD: PASSWORD };

  /** The Docker engine's CLI (this file's harness talks to Podman), with our own config folder. */
  const dockerEngine = (args: string[], input?: string) =>
    execFileSync('docker', ['--host', DOCKER_SOCKET, '--config', dockerConfig, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

  const project = (label: string, imageRef: string) => {
    const p = testProject(label, registryImageConfig(`    ref: ${imageRef}\n    pull: always\n    pullSecret: { username: { fromEnv: REG_USER }, password: { fromEnv: REG_PASSWORD } }`));
    projects.push(p);
    return p;
  };

  beforeAll(async () => {
    await requirePodman();
    expect((await docker.version()).Components?.map((c) => c.Name)).toContain('Podman Engine');
    mkdirSync(dockerConfig);
    registry = await startRegistry(root, USER, PASSWORD);
    ref = `127.0.0.1:${registry.port}/${repo}:1`;
    const ctx = join(root, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${TEST_IMAGE}\nLABEL io.sandboxshift.test-variant="podman-pull"\n`);
    dockerEngine(['login', '-u', USER, '--password-stdin', `127.0.0.1:${registry.port}`], PASSWORD);
    dockerEngine(['build', '-q', '-t', ref, ctx]);
    const push = dockerEngine(['push', ref]);
    pushed = /digest: (sha256:[0-9a-f]{64})/.exec(push)?.[1] ?? '';
    expect(pushed).toMatch(/^sha256:[0-9a-f]{64}$/);
    dockerEngine(['rmi', '--force', ref]);
  }, 300_000);

  afterAll(async () => {
    for (const p of projects) await p.cleanup();
    registry?.stop();
    await removeImagesOf(docker, `127.0.0.1:${registry?.port ?? 0}/${repo}`);
    rmSync(root, { recursive: true, force: true });
  }, 300_000);

  it('plans the pull with the digest the registry names, pulls exactly it with the credentials, runs it, then plans no changes', async () => {
    const p = project('preg-pull', ref);
    const planned = await p.run(['plan'], { env });
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    expect(planned.stdout).toContain(`+ image.app will be pulled\n      ref:       ${ref}\n      digest:    ${pushed}\n`);
    const applied = await p.run(['apply', '--auto-approve'], { env });
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/image\.app: Pulling\.\.\.\n[\s\S]*image\.app: Pull complete after [\d.]+s/);
    expect(applied.stdout).toContain('Apply complete! Resources: 1 pulled, 1 added, 0 changed, 0 destroyed.');
    const c = await docker.getContainer(containerOf(p.name, 'dev')).inspect();
    expect(c.Config.Labels['io.sandboxshift.test-variant']).toBe('podman-pull');
    expect((await docker.getImage(ref).inspect()).RepoDigests).toContain(`127.0.0.1:${registry!.port}/${repo}@${pushed}`);
    expect(await execIn(containerOf(p.name, 'dev'), ['id', '-u'])).toBe('65532\n');
    const again = await p.run(['plan', '--detailed-exitcode'], { env });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('No changes.');
    // The credentials are in no output and nothing the engine shows.
    const basic = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    for (const text of [planned.stdout, planned.stderr, applied.stdout, applied.stderr, JSON.stringify(c)]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(basic);
    }
  }, 600_000);

  it('a ref with both a tag and a digest: Podman shows the container under REPO@DIGEST, and the next plan has no changes (no replace)', async () => {
    const p = project('preg-pin', `${ref}@${pushed}`);
    const applied = await p.run(['apply', '--auto-approve'], { env });
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toContain('Apply complete! Resources: 1 added, 0 changed, 0 destroyed.');
    const again = await p.run(['plan', '--detailed-exitcode'], { env });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('No changes.');
  }, 300_000);

  it('a wrong password and a missing tag are the same plan errors as on Docker', async () => {
    const wrong = await project('preg-401', ref).run(['plan'], { env: { ...env, REG_PASSWORD: 'not-the-password' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`error: registry 127.0.0.1:${registry!.port} refused the credentials for images.app (${ref}): unauthorized (at images.app.pullSecret)`);
    expect(wrong.stderr).not.toContain('not-the-password');
    const missingRef = `127.0.0.1:${registry!.port}/${repo}:no-such-tag`;
    const missing = await project('preg-404', missingRef).run(['plan'], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`error: tag missing: registry 127.0.0.1:${registry!.port} has no ${missingRef} (images.app) (at images.app.ref)`);
  }, 300_000);

  it('build.push on Podman pushes to a loopback registry (plain HTTP there only, as Docker does) and plan then sees the tag', async () => {
    const p = testProject(
      'preg-push',
      registryImageConfig(
        `    build:\n      context: ./ctx\n      push: 127.0.0.1:${registry!.port}/${repo}-built\n      pushSecret: { username: { fromEnv: REG_USER }, password: { fromEnv: REG_PASSWORD } }`,
      ),
    );
    projects.push(p);
    mkdirSync(join(p.dir, 'ctx'));
    writeFileSync(join(p.dir, 'ctx', 'Dockerfile'), `FROM ${TEST_IMAGE}\nLABEL io.sandboxshift.test-variant="podman-pushed"\n`);
    try {
      const applied = await p.run(['apply', '--auto-approve'], { env });
      expect(applied.code, applied.stdout + applied.stderr).toBe(0);
      expect(applied.stdout).toMatch(new RegExp(`image\\.app: pushed 127\\.0\\.0\\.1:${registry!.port}/${repo}-built:ctx-[0-9a-f]{12} \\(digest sha256:[0-9a-f]{64}\\)`));
      const again = await p.run(['plan', '--detailed-exitcode'], { env });
      expect(again.code, again.stdout + again.stderr).toBe(0);
      expect(again.stdout).toContain('No changes.');
      expect(applied.stdout + applied.stderr + again.stdout).not.toContain(PASSWORD);
    } finally {
      await p.run(['destroy', '--auto-approve', '--purge-volumes'], { env });
      await removeImagesOf(docker, `127.0.0.1:${registry!.port}/${repo}-built`);
      await removeImagesOf(docker, `sandboxshift/${p.name}-app`);
    }
  }, 600_000);

  it("an error Podman reports inside its pull's progress (after answering 200) is the apply's error, not a missing image (the last test here: it breaks the image)", async () => {
    // An image with a layer of its own (none of it in Podman's store), pushed, then its last layer
    // lost by the registry between plan and apply: the manifest and config (what plan and apply's
    // check of the saved plan read) are still served, and the pull fails half-way.
    const broken = ref.replace(/:1$/, ':broken');
    const ctx = join(root, 'ctx-broken');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${TEST_IMAGE}\nUSER 0\nRUN echo ${randomBytes(8).toString('hex')} > /marker\nUSER 65532:65532\n`);
    dockerEngine(['build', '-q', '-t', broken, ctx]);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(dockerEngine(['push', broken]))?.[1];
    dockerEngine(['rmi', '--force', broken]);
    const p = project('preg-down', broken);
    const saved = join(p.dir, 'saved.plan');
    const planned = await p.run(['plan', '--out', saved], { env });
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    const manifest = (await (
      await fetch(`http://127.0.0.1:${registry!.port}/v2/${repo}/manifests/broken`, {
        headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      })
    ).json()) as { layers: Array<{ digest: string }> };
    const hex = manifest.layers.at(-1)!.digest.slice('sha256:'.length);
    rmSync(join(root, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex), { recursive: true });
    const applied = await p.run(['apply', saved], { env });
    expect(applied.code, applied.stdout + applied.stderr).toBe(1);
    expect(applied.stdout, applied.stderr).toContain('image.app: Pull FAILED after');
    expect(applied.stdout).toMatch(new RegExp(`pull 127\\.0\\.0\\.1:${registry!.port}/${repo}@${digest} failed \\(missing\\): reading blob sha256:${hex}: .*404`));
    expect(applied.stdout).not.toContain('No such image');
    expect(applied.stdout).toContain('environment.dev: skipped (depends on image.app, which failed)');
    expect(readFileSync(saved, 'utf8')).not.toContain(PASSWORD);
  }, 300_000);
});
