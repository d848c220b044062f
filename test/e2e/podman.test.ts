// The same plan/apply against Podman's Docker-compatible API (scripts/setup-podman.sh starts it
// on /run/podman/podman.sock). Targets Podman explicitly, so the normal `npm test` covers it;
// fails loudly when Podman is not set up. Each Podman difference SandboxShift handles has a
// check here (README "Podman").
import './use-podman.js';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE, busyboxConfig, containerOf, docker, dockerCli, execIn, podman, requirePodman, testProject, volumeExists, volumeOf, type TestProject } from './harness.js';

const SECRET = 'podman-secret-value-93f1';

function config(role: string, memory = '32m'): string {
  return busyboxConfig(
    `  alpha:
    command: ["sleep", "100000"]
    env: { ROLE: ${role} }
    secrets:
      api_key: { fromEnv: SANDBOXSHIFT_PODMAN_KEY }
`,
    `{ cpus: 0.25, memory: ${memory}, pids: 32 }`,
  );
}

beforeAll(async () => {
  await requirePodman();
  // The harness targets Podman in this file.
  expect((await docker.version()).Components?.map((c) => c.Name)).toContain('Podman Engine');
});

describe('Podman: lifecycle, secrets, hardening', () => {
  let p: TestProject;
  const env = { SANDBOXSHIFT_PODMAN_KEY: SECRET };
  beforeAll(() => {
    p = testProject('podman', config('coder'));
  });
  afterAll(async () => {
    await p.cleanup();
  });

  it('applies: the lock image is imported under its name, the short image name resolves to localhost/', async () => {
    const r = await p.run(['apply', '--auto-approve'], { env });
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('Apply complete! Resources: 1 added, 0 changed, 0 destroyed.');
    // Podman names the imported lock image docker.io/... with the tag kept (it ignores `tag`).
    expect((await podman.getImage('sandboxshift/lock:1').inspect()).RepoTags).toContain('docker.io/sandboxshift/lock:1');
    const info = await podman.getContainer(containerOf(p.name, 'alpha')).inspect();
    expect(info.Config.Image).toBe('localhost/sandboxshift/busybox:test');
    expect(info.State.Status).toBe('running');
    // Podman ignores a mount's volume labels: the workspace volume is made first, labelled.
    expect((await podman.getVolume(volumeOf(p.name, 'alpha')).inspect()).Labels).toMatchObject({ 'io.sandboxshift.project': p.name, 'io.sandboxshift.role': 'workspace' });
  });

  it('plans no changes after apply, on the list path and on a full refresh', async () => {
    for (const args of [
      ['plan', '--detailed-exitcode'],
      ['plan', '--detailed-exitcode', '--refresh=full'],
    ]) {
      const r = await p.run(args, { env });
      expect(r.stdout).toContain('No changes. 1 environment matches the configuration.');
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
  });

  it('hardens the container as inspect shows it on Podman', async () => {
    const info = await podman.getContainer(containerOf(p.name, 'alpha')).inspect();
    expect(info.Config.User).toBe('65532:65532');
    // Podman lists every dropped default capability instead of ALL; its own inspect shows none left.
    expect(info.HostConfig.CapDrop).toEqual(expect.arrayContaining(['CHOWN', 'DAC_OVERRIDE', 'SETUID', 'SETGID', 'NET_RAW']));
    expect(info.HostConfig.CapAdd ?? []).toEqual([]);
    const own = await new Promise<{ EffectiveCaps: string[] | null; BoundingCaps: string[] | null; OCIRuntime: string }>((resolve, reject) =>
      podman.modem.dial({ path: `/v4.0.0/libpod/containers/${info.Id}/json`, method: 'GET', statusCodes: { 200: true } }, (err, data) => (err ? reject(err) : resolve(data as never))),
    );
    expect(own.EffectiveCaps ?? []).toEqual([]);
    expect(own.BoundingCaps ?? []).toEqual([]);
    expect(own.OCIRuntime).toBe('runc');
    // Podman shows no-new-privileges without ":true", and the runtime as "oci".
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
    expect(info.HostConfig.Runtime).toBe('oci');
    expect(info.HostConfig.NetworkMode).toBe('none');
    expect(info.HostConfig.PidsLimit).toBe(32);
    expect(info.HostConfig.Memory).toBe(32 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(250_000_000);
    const c = containerOf(p.name, 'alpha');
    expect((await execIn(c, ['id', '-u'])).trim()).toBe('65532');
    expect((await execIn(c, ['sh', '-c', 'grep CapEff /proc/self/status'])).trim()).toBe('CapEff:\t0000000000000000');
    expect((await execIn(c, ['sh', '-c', 'grep NoNewPrivs /proc/self/status'])).trim()).toBe('NoNewPrivs:\t1');
  });

  it('puts the secret in a file only the environment user reads, and nowhere in inspect', async () => {
    const c = containerOf(p.name, 'alpha');
    expect(await execIn(c, ['cat', '/run/secrets/api_key'])).toBe(SECRET);
    expect((await execIn(c, ['stat', '-c', '%a %u:%g', '/run/secrets/api_key'])).trim()).toBe('400 65532:65532');
    const info = await podman.getContainer(c).inspect();
    expect(JSON.stringify(info)).not.toContain(SECRET);
    // Nor in the service's log (scripts/setup-podman.sh) or Podman's event log.
    const stateDir = process.env.SANDBOXSHIFT_STATE_DIR ?? '/var/tmp/sandboxshift';
    for (const log of [`${stateDir}/podman-service.log`, '/run/libpod/events/events.log']) expect(readFileSync(log, 'utf8')).not.toContain(SECRET);
  });

  it('still sees hardening changed outside sandboxshift: a look-alike with a capability and a network', async () => {
    const c = containerOf(p.name, 'alpha');
    const info = await podman.getContainer(c).inspect();
    const labels = Object.entries(info.Config.Labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    await dockerCli(['rm', '-f', c]);
    await dockerCli([
      'create',
      '--name',
      c,
      ...labels,
      '--user',
      '65532:65532',
      '--cap-add',
      'NET_RAW',
      '--network',
      'podman',
      '--mount',
      `type=volume,source=${volumeOf(p.name, 'alpha')},target=/workspace`,
      TEST_IMAGE,
      'sleep',
      '100000',
    ]);
    const listed = await p.run(['plan'], { env });
    expect(listed.stdout).toContain('-/+ environment.alpha must be replaced');
    // Podman shows a named network's mode as "bridge" (Docker: the network's name).
    expect(listed.stdout).toContain('changed outside sandboxshift: network is bridge (config: none)');
    expect(listed.stdout).toContain('changed outside sandboxshift: also attached to podman (config: none only)');
    const full = await p.run(['plan', '--refresh=full'], { env });
    // Podman counts NET_RAW among its default capabilities, so it shows no capability added: the
    // drops it lists (not ALL, per its own inspect) are what tells.
    expect(full.stdout).toMatch(/changed outside sandboxshift: capabilities dropped: [A-Z_, ]+ \(config: ALL dropped\)/);
    const r = await p.run(['apply', '--auto-approve'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await p.run(['plan', '--detailed-exitcode', '--refresh=full'], { env })).code).toBe(0);
  });

  it('replaces on a change and keeps /workspace', async () => {
    const c = containerOf(p.name, 'alpha');
    await execIn(c, ['sh', '-c', 'echo precious > /workspace/notes.txt']);
    const before = (await podman.getContainer(c).inspect()).Id;
    p.write(config('reviewer'));
    const planned = await p.run(['plan'], { env });
    expect(planned.stdout).toContain('-/+ environment.alpha must be replaced');
    expect(planned.stdout).toContain('data:      new container; /workspace kept');
    const r = await p.run(['apply', '--auto-approve'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await podman.getContainer(c).inspect()).Id).not.toBe(before);
    expect(await execIn(c, ['cat', '/workspace/notes.txt'])).toBe('precious\n');
    expect(await execIn(c, ['sh', '-c', 'echo $ROLE'])).toBe('reviewer\n');
    expect((await p.run(['plan', '--detailed-exitcode'], { env })).code).toBe(0);
  });

  it('replaces on a change of limits (Podman cannot change them in place), keeping /workspace', async () => {
    const c = containerOf(p.name, 'alpha');
    const before = (await podman.getContainer(c).inspect()).Id;
    p.write(config('reviewer', '48m'));
    const planned = await p.run(['plan'], { env });
    expect(planned.stdout).toContain('-/+ environment.alpha must be replaced');
    expect(planned.stdout).toContain('because:   resources.memory 32 MiB → 48 MiB (Podman cannot change limits in place)');
    const r = await p.run(['apply', '--auto-approve'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const after = await podman.getContainer(c).inspect();
    expect(after.Id).not.toBe(before);
    expect(after.HostConfig.Memory).toBe(48 * 1024 * 1024);
    expect(await execIn(c, ['cat', '/workspace/notes.txt'])).toBe('precious\n');
    expect((await p.run(['plan', '--detailed-exitcode', '--refresh=full'], { env })).code).toBe(0);
  });

  it('sees an out-of-band stop and starts the container again', async () => {
    const c = containerOf(p.name, 'alpha');
    await dockerCli(['stop', '-t', '1', c]);
    const planned = await p.run(['plan'], { env });
    expect(planned.stdout).toContain('> environment.alpha will be started');
    const r = await p.run(['apply', '--auto-approve'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await podman.getContainer(c).inspect()).State.Status).toBe('running');
  });

  it('destroy keeps the workspace volume; --purge-volumes removes it', async () => {
    const r = await p.run(['destroy', '--auto-approve'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expect(podman.getContainer(containerOf(p.name, 'alpha')).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(await volumeExists(volumeOf(p.name, 'alpha'))).toBe(true);
    const purged = await p.run(['destroy', '--auto-approve', '--purge-volumes'], { env });
    expect(purged.code, purged.stdout + purged.stderr).toBe(0);
    expect(await volumeExists(volumeOf(p.name, 'alpha'))).toBe(false);
  });
});

describe('Podman: what it cannot do here is refused at plan time', () => {
  let p: TestProject;
  afterAll(async () => {
    await p.cleanup();
  });

  it('refuses runsc, with advice, and makes nothing', async () => {
    p = testProject('podman-refused', busyboxConfig(`  web:\n    command: ["sleep", "100000"]\n  gv:\n    command: ["sleep", "100000"]\n    runtime: runsc\n`));
    for (const args of [['plan'], ['apply', '--auto-approve']]) {
      const r = await p.run(args);
      expect(r.code).toBe(1);
      const out = r.stdout + r.stderr;
      expect(out).toContain("runtime 'runsc' does not run under Podman's Docker API: its containers fail with \"cannot run with network enabled in root network namespace\"; wanted by gv");
      expect(out).not.toContain('    at ');
    }
    const label = { label: [`io.sandboxshift.project=${p.name}`] };
    expect(await podman.listNetworks({ filters: label })).toEqual([]);
    expect(await podman.listContainers({ all: true, filters: label })).toEqual([]);
  });
});
