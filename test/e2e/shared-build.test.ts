// A shipped image is shared by every project on the engine under one tag: two applies that both
// find it missing must not both build it (two IDs under one tag, and the containers of the
// project whose ID the tag left read as changed). Against the real engine: two builds at once of
// one image with a slow step, a lock held by a run on another host, and a stale one of this host.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/types.js';
import { acquireLock, type HeldLock } from '../../src/engine/lock.js';
import { buildSharedImage, sharedBuildScope } from '../../src/engine/shared-build.js';
import { desiredImage } from '../../src/model/images.js';
import { docker, dockerCli } from './harness.js';

describe('shared image builds', () => {
  const name = `e2e-shared-${randomBytes(3).toString('hex')}`;
  const context = mkdtempSync(join(tmpdir(), 'ss-shared-build-'));
  // A slow step, so that two builds started together would overlap.
  writeFileSync(join(context, 'Dockerfile'), `FROM sandboxshift/busybox:test\nRUN sleep 3 && echo ${name} > /tmp/built\n`);
  const image = desiredImage({ project: 'e2e-shared' } as Config, { name, build: { context, dockerfile: 'Dockerfile', args: {} } }, true);
  const hash = image.build!.digest.hash;
  const withHash = async () => (await dockerCli(['images', '-q', '--no-trunc', '--filter', `label=io.sandboxshift.context-hash=${hash}`])).split('\n').filter(Boolean);
  const removeImages = async () => {
    for (const id of new Set(await withHash())) await dockerCli(['rmi', '-f', id]);
  };
  afterAll(async () => {
    await removeImages();
    await docker
      .getContainer(lockName)
      .remove({ force: true })
      .catch(() => undefined);
    rmSync(context, { recursive: true, force: true });
  });

  const lockName = `ss.${sharedBuildScope(name)}.lock`;
  /** The image's build lock as acquireLock makes it, with some of its labels changed. */
  const plantLock = async (command: string, labels: Record<string, string>): Promise<HeldLock> => {
    const held = await acquireLock(docker, sharedBuildScope(name), command);
    const info = await docker.getContainer(lockName).inspect();
    await docker.getContainer(lockName).remove({ force: true });
    await docker.createContainer({ name: lockName, Image: info.Config.Image, Cmd: ['/lock'], Labels: { ...info.Config.Labels, ...labels }, HostConfig: { NetworkMode: 'none' } });
    return held;
  };

  it('two projects building it at once: one builds, the other waits and builds nothing; one image, one ID under the tag', async () => {
    expect(image.ref).toBe(`sandboxshift/builtin-${name}:ctx-${hash.slice(0, 12)}`);
    const lines: Record<'a' | 'b', string[]> = { a: [], b: [] };
    const [a, b] = await Promise.all([buildSharedImage(docker, 'project-a', image, (l) => lines.a.push(l)), buildSharedImage(docker, 'project-b', image, (l) => lines.b.push(l))]);
    const tagged = (await docker.getImage(image.ref).inspect()).Id;
    expect(await withHash()).toEqual([tagged]);
    // The builder's answer is the engine's short ID or the full one; the waiter's the full one.
    const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
    expect([short(a), short(b)]).toEqual([short(tagged), short(tagged)]);
    // Exactly one of them built (its steps); the other waited for it, then found the image.
    const built = [lines.a, lines.b].filter((l) => l.some((x) => /^Step 2\/\d+ : RUN sleep 3/.test(x)));
    const waited = [lines.a, lines.b].filter((l) => l.some((x) => x.startsWith(`waiting for another run that is building ${image.ref}: `)));
    expect(built).toHaveLength(1);
    expect(waited).toHaveLength(1);
    expect(waited[0]).toContain(`${image.ref} is already built from the same context (by another run): nothing to build`);
    expect(waited[0]!.some((x) => x.startsWith('Step '))).toBe(false);
    // The lock is given back.
    expect(await dockerCli(['ps', '-a', '-q', '--filter', `name=^${lockName}$`])).toBe('');
  }, 120_000);

  it('a lock held by a run on another host is waited for, never taken over, and the wait ends with who holds it and how to remove it', async () => {
    await removeImages();
    // Another host's: a lock of a live process elsewhere is never judged stale from here.
    const held = await plantLock('apply (elsewhere)', { 'io.sandboxshift.lock.holder': 'other-host' });
    const saved = process.env.SANDBOXSHIFT_BUILD_LOCK_WAIT;
    process.env.SANDBOXSHIFT_BUILD_LOCK_WAIT = '1';
    try {
      const lines: string[] = [];
      const err = await buildSharedImage(docker, 'project-c', image, (l) => lines.push(l)).then(
        () => null,
        (e: Error & { diagnostics?: Array<{ message: string; hint?: string }> }) => e,
      );
      expect(err?.diagnostics?.map((d) => [d.message, d.hint])).toEqual([
        [
          `the build lock ${lockName} of the shared image ${image.ref} is still held after 1s, by other-host pid ${process.pid} (apply (elsewhere)) since ${held.info.since}, lock ID ${held.info.id}`,
          `another project is building it: try again later, or wait longer (SANDBOXSHIFT_BUILD_LOCK_WAIT, in seconds). Only if no run on that host is building it any more, remove the lock with \`docker rm -f ${lockName}\``,
        ],
      ]);
      expect(lines).toEqual([`waiting for another run that is building ${image.ref}: other-host pid ${process.pid} (apply (elsewhere)) since ${held.info.since}, lock ID ${held.info.id}`]);
      expect(await withHash()).toEqual([]);
      expect((await docker.getContainer(lockName).inspect()).Config.Labels?.['io.sandboxshift.lock.holder']).toBe('other-host');
    } finally {
      if (saved === undefined) delete process.env.SANDBOXSHIFT_BUILD_LOCK_WAIT;
      else process.env.SANDBOXSHIFT_BUILD_LOCK_WAIT = saved;
      await docker.getContainer(lockName).remove({ force: true });
    }
  }, 60_000);

  it('SIGTERM while it builds (a cancelled CI job): the process exits 143 and gives back the build lock as well as the project lock', async () => {
    const sigName = `${name}-sig`;
    const sigContext = mkdtempSync(join(tmpdir(), 'ss-shared-build-sig-'));
    writeFileSync(join(sigContext, 'Dockerfile'), `FROM sandboxshift/busybox:test\nRUN sleep 20 && echo ${sigName} > /tmp/built\n`);
    const project = `e2e-sig-${randomBytes(3).toString('hex')}`;
    const dist = (path: string) => JSON.stringify(new URL(`../../dist/${path}`, import.meta.url).href);
    // The apply's shape: the project lock around the work (app/lock.ts), the build inside it.
    const script = [
      `import { withLock } from ${dist('app/lock.js')};`,
      `import { connectEngine } from ${dist('engine/client.js')};`,
      `import { buildSharedImage } from ${dist('engine/shared-build.js')};`,
      `import { desiredImage } from ${dist('model/images.js')};`,
      `const engine = connectEngine();`,
      `const image = desiredImage({ project: ${JSON.stringify(project)} }, { name: ${JSON.stringify(sigName)}, build: { context: ${JSON.stringify(sigContext)}, dockerfile: 'Dockerfile', args: {} } }, true);`,
      `await withLock(engine, ${JSON.stringify(project)}, { command: 'apply' }, async () =>`,
      `  buildSharedImage(await engine.docker(), ${JSON.stringify(project)}, image, (line) => {`,
      `    console.log(line);`,
      `    if (/^Step 2\\/\\d+ : RUN sleep 20/.test(line)) process.kill(process.pid, 'SIGTERM');`,
      `  }),`,
      `);`,
      `console.log('the work ended without the signal');`,
    ].join('\n');
    try {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect({ code, out }).toEqual({ code: 143, out: expect.stringMatching(/^Step 2\/\d+ : RUN sleep 20 && echo \S+ > \/tmp\/built\n$/m) });
      expect(out).not.toContain('the work ended without the signal');
      expect(await dockerCli(['ps', '-a', '-q', '--filter', `name=^ss.${sharedBuildScope(sigName)}.lock$`])).toBe('');
      expect(await dockerCli(['ps', '-a', '-q', '--filter', `name=^ss.${project}.lock$`])).toBe('');
    } finally {
      await docker
        .getContainer(`ss.${sharedBuildScope(sigName)}.lock`)
        .remove({ force: true })
        .catch(() => undefined);
      const ids = (await dockerCli(['images', '-q', '--filter', `reference=sandboxshift/builtin-${sigName}`])).split('\n').filter(Boolean);
      for (const id of new Set(ids)) await dockerCli(['rmi', '-f', id]);
      rmSync(sigContext, { recursive: true, force: true });
    }
  }, 120_000);

  it('a stale lock of this host (its process gone) is taken over, and the image is built', async () => {
    // A pid that no process has: the holder was killed.
    await plantLock('apply (killed)', { 'io.sandboxshift.lock.pid': '4194303' });
    const lines: string[] = [];
    const id = await buildSharedImage(docker, 'project-d', image, (l) => lines.push(l));
    const tagged = (await docker.getImage(image.ref).inspect()).Id;
    expect(await withHash()).toEqual([tagged]);
    expect(tagged.replace(/^sha256:/, '').startsWith(id.replace(/^sha256:/, '').slice(0, 12))).toBe(true);
    expect(lines.some((l) => /^Step 2\/\d+ : RUN sleep 3/.test(l))).toBe(true);
    expect(await dockerCli(['ps', '-a', '-q', '--filter', `name=^${lockName}$`])).toBe('');
  }, 120_000);

  it('a container under the build lock name that is not a lock of ours is named at once, never waited for or removed', async () => {
    await removeImages();
    // Someone's own container: the name only, none of a lock's labels.
    await dockerCli(['run', '-d', '--name', lockName, '--network', 'none', 'sandboxshift/busybox:test', 'sleep', '1000']);
    const saved = process.env.SANDBOXSHIFT_BUILD_LOCK_WAIT;
    process.env.SANDBOXSHIFT_BUILD_LOCK_WAIT = '2';
    try {
      const before = (await docker.getContainer(lockName).inspect()).Id;
      const lines: string[] = [];
      const err = await buildSharedImage(docker, 'project-e', image, (l) => lines.push(l)).then(
        () => null,
        (e: Error & { diagnostics?: Array<{ message: string; hint?: string }> }) => e,
      );
      expect(err?.diagnostics?.map((d) => [d.message, d.hint])).toEqual([
        [
          `container ${lockName} has the name of the build lock of the shared image ${name} but is not a lock sandboxshift made (it lacks the labels io.sandboxshift.project=${sharedBuildScope(name)}, io.sandboxshift.role=lock and io.sandboxshift.lock.id); it was left as it is`,
          `sandboxshift does not remove what it did not create: check what it is (docker inspect ${lockName}), then rename it (docker rename ${lockName} NEW-NAME) or remove it (docker rm ${lockName}) yourself, and run the command again`,
        ],
      ]);
      expect(lines).toEqual([]);
      expect(await withHash()).toEqual([]);
      const after = await docker.getContainer(lockName).inspect();
      expect([after.Id, after.State.Status]).toEqual([before, 'running']);
    } finally {
      if (saved === undefined) delete process.env.SANDBOXSHIFT_BUILD_LOCK_WAIT;
      else process.env.SANDBOXSHIFT_BUILD_LOCK_WAIT = saved;
      await dockerCli(['rm', '-f', lockName]);
    }
  }, 60_000);
});
