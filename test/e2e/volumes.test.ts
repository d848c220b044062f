// Extra named volumes (`volumes:`) on the real engine: the same promises as /workspace. Kept
// across replace, stop and destroy; deleted only by destroy --purge-volumes, never when
// protected; a look-alike volume is refused; shown in plan and status; one dropped from the
// config is kept and named.
import { chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxConfig, containerOf, docker, dockerCli, trackedProjects, volumeExists, type TestProject } from './harness.js';

const tracked = trackedProjects();
const { project, foreignVolumes } = tracked;
afterAll(tracked.cleanup);

/** Reads a file of the data volume through the container, as the environment's user. */
async function readData(container: string): Promise<string> {
  return dockerCli(['exec', container, 'cat', '/data/agent/notes.txt']);
}

async function volumeLabels(name: string): Promise<Record<string, string>> {
  return (await docker.getVolume(name).inspect()).Labels ?? {};
}

describe('an extra named volume', () => {
  let p: TestProject;
  let vol: string;
  let c: string;
  const config = (a: string) => busyboxConfig(`  a: ${a}\n`);
  beforeAll(() => {
    p = project('volumes', config('{ volumes: { agent-data: /data/agent }, env: { V: "1" } }'));
    vol = `ss.${p.name}.a.vol.agent-data`;
    c = containerOf(p.name, 'a');
  });

  it('is planned (text and JSON), made with the container with its labels, and shown in status', async () => {
    const planned = await p.run(['plan']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain('      data:      none; volumes: agent-data (/data/agent) new\n');
    const json = JSON.parse((await p.run(['plan', '--json'])).stdout) as { resource_changes: Array<{ volumes?: unknown }> };
    expect(json.resource_changes[0]?.volumes).toEqual([{ name: 'agent-data', volume_name: vol, path: '/data/agent', action: 'create' }]);
    const markdown = await p.run(['plan', '--format', 'markdown']);
    expect(markdown.stdout).toContain('· data: none; volumes: agent-data (/data/agent) new');

    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(await volumeLabels(vol)).toMatchObject({
      'io.sandboxshift.project': p.name,
      'io.sandboxshift.environment': 'a',
      'io.sandboxshift.role': 'volume',
      'io.sandboxshift.volume': 'agent-data',
      'io.sandboxshift.protect': 'false',
    });
    // The environment's user owns the volume's root (set up at create), so it writes there itself.
    expect(await dockerCli(['exec', c, 'sh', '-c', 'echo kept > /data/agent/notes.txt && stat -c %u:%g /data/agent'])).toBe('65532:65532\n');
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);

    const status = await p.run(['status']);
    expect(status.stdout).toContain(`Volumes:\n  a: agent-data /data/agent → ${vol} (created)\n`);
    const statusJson = JSON.parse((await p.run(['status', '--json'])).stdout) as { environments: Array<{ name: string; volumes: unknown }> };
    expect(statusJson.environments.find((e) => e.name === 'a')?.volumes).toEqual([{ name: 'agent-data', volume_name: vol, path: '/data/agent', state: 'created' }]);
  });

  it('keeps its files across a replace, a stop outside sandboxshift, and destroy', async () => {
    p.write(config('{ volumes: { agent-data: /data/agent }, env: { V: "2" } }'));
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain('      data:      new container; /workspace kept; volumes: agent-data (/data/agent) kept\n');
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    expect(await readData(c)).toBe('kept\n');

    await dockerCli(['stop', '-t', '1', c]);
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    expect(await readData(c)).toBe('kept\n');

    const destroyed = await p.run(['destroy', '--auto-approve']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stdout).toContain('container removed; /workspace volume kept; volumes: agent-data (/data/agent) kept');
    expect(await volumeExists(vol)).toBe(true);
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    expect(await readData(c)).toBe('kept\n');
  });

  it('dropped from the config: the container is replaced, the volume kept and named as orphaned', async () => {
    p.write(config('{ env: { V: "2" } }'));
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain('volume agent-data removed (every volume is kept)');
    expect(planned.stdout).toContain(`volume ${vol} of environment 'a' is no longer under its volumes ('agent-data' removed); the volume is kept, no longer mounted`);
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    expect(await volumeExists(vol)).toBe(true);
    const status = await p.run(['status']);
    expect(status.stdout).toContain(`${vol} is orphaned: no longer under environment 'a' volumes; kept (docker volume rm ${vol} deletes it)`);

    // Declared again: mounted again with its files.
    p.write(config('{ volumes: { agent-data: /data/agent }, env: { V: "2" }, protect: true }'));
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    expect(await readData(c)).toBe('kept\n');
  });

  it('is never purged while protected, and purged by destroy --purge-volumes once not', async () => {
    const refused = await p.run(['destroy', '--purge-volumes', '--auto-approve']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`environment 'a' is protected (protect: true); --purge-volumes will not delete its /workspace volume ss.${p.name}.a.workspace or its volume ${vol}`);
    expect(await readData(c)).toBe('kept\n');

    p.write(config('{ volumes: { agent-data: /data/agent }, env: { V: "2" } }'));
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    const planned = await p.run(['destroy', '--purge-volumes']);
    expect(planned.stdout).toContain(`! security: volume ${vol} will be DELETED`);
    expect(planned.stdout).toContain('/workspace volume DELETED; volumes: agent-data (/data/agent) DELETED');
    const purged = await p.run(['destroy', '--purge-volumes', '--auto-approve']);
    expect(purged.code, purged.stderr).toBe(0);
    expect(await volumeExists(vol)).toBe(false);
    expect(await volumeExists(`ss.${p.name}.a.workspace`)).toBe(false);
  });
});

describe('a volume named like an extra volume that sandboxshift did not create', () => {
  it('is refused at plan time, named, and left as it is', async () => {
    const p = project('vol-foreign', busyboxConfig('  a: { volumes: { data: /data } }\n'));
    const vol = `ss.${p.name}.a.vol.data`;
    foreignVolumes.push(vol);
    await dockerCli(['volume', 'create', vol]);
    const planned = await p.run(['plan']);
    expect(planned.code).toBe(1);
    expect(planned.stderr).toContain(`environment 'a': volume ${vol} already exists and was not created by sandboxshift (no labels); it is not mounted at /data or changed`);
    expect(planned.stderr).toContain(`hint: move it away (docker volume rm ${vol}, after saving what you need), or rename the volume under volumes:`);
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code).toBe(1);
    expect(await volumeLabels(vol)).toEqual({});
    const destroyed = await p.run(['destroy', '--purge-volumes', '--auto-approve']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(await volumeExists(vol)).toBe(true);
  });
});

describe('volumes in the config', () => {
  it('are refused with a positioned error where they would clash', async () => {
    const p = project(
      'vol-invalid',
      busyboxConfig(`  a:
    volumes: { workspace: /x, w: /workspace/sub, s: /run, n: /a/../b, rel: data, c2: /cache/sub, m: /mnt/host/x }
    mounts: [{ source: /tmp, target: /mnt/host }]
    allowDangerous: [host-mounts]
`).replace('  image: busybox\n', '  image: busybox\n  volumes: { cache: /cache }\n'),
    );
    const r = await p.run(['validate']);
    expect(r.code).toBe(1);
    for (const line of [
      "sandboxshift.yaml:12:16: error: 'workspace' cannot be a volume name: it is the name of the /workspace volume (at environments.a.volumes.workspace)",
      "sandboxshift.yaml:12:34: error: volume 'w': path /workspace/sub is inside /workspace, which sandboxshift mounts itself (at environments.a.volumes.w)",
      "sandboxshift.yaml:12:53: error: volume 's': path /run contains /run/secrets, which sandboxshift mounts itself (at environments.a.volumes.s)",
      "sandboxshift.yaml:12:62: error: volume 'n': path '/a/../b' is not in normal form (at environments.a.volumes.n)",
      "sandboxshift.yaml:12:76: error: volume 'rel': path 'data' must be an absolute path inside the container (at environments.a.volumes.rel)",
      "sandboxshift.yaml:12:86: error: environment 'a': volume 'c2' (/cache/sub) overlaps volume 'cache' (/cache) (at environments.a.volumes.c2)",
      "sandboxshift.yaml:12:101: error: environment 'a': volume 'm' (/mnt/host/x) overlaps the mount target /mnt/host (at environments.a.volumes.m)",
    ]) {
      expect(r.stderr).toContain(line);
    }
  });
});

describe('a host folder as /workspace (workspace.hostPath)', () => {
  it('runs as the folder owner, so files written inside belong to them on the host; destroy leaves the folder', async () => {
    const p = project('hostpath', busyboxConfig('  a: { workspace: { hostPath: ./work }, allowDangerous: [host-mounts] }\n'));
    const dir = join(p.dir, 'work');
    mkdirSync(dir);
    chownSync(dir, 43210, 43210);
    writeFileSync(join(dir, 'mine.txt'), 'from the host');
    const planned = await p.run(['plan']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain(`      workspace: host folder ${dir} (owner 43210:43210)\n`);
    expect(planned.stdout).toContain(`! security: host path mounted: ${dir} → /workspace`);
    const json = JSON.parse((await p.run(['plan', '--json'])).stdout) as { resource_changes: Array<{ host_workspace?: unknown; change: { after: { user: string } } }> };
    expect(json.resource_changes[0]?.host_workspace).toEqual({ path: dir, uid: 43210, gid: 43210 });
    expect(json.resource_changes[0]?.change.after.user).toBe('43210:43210');

    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stderr).toBe(0);
    const c = containerOf(p.name, 'a');
    expect(await dockerCli(['exec', c, 'sh', '-c', 'id -u; cat /workspace/mine.txt; echo agent > /workspace/agent.txt'])).toBe('43210\nfrom the host');
    const st = statSync(join(dir, 'agent.txt'));
    expect([st.uid, st.gid]).toEqual([43210, 43210]);
    expect(readFileSync(join(dir, 'agent.txt'), 'utf8')).toBe('agent\n');
    expect(await volumeExists(`ss.${p.name}.a.workspace`)).toBe(false);
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);

    const destroyed = await p.run(['destroy', '--purge-volumes', '--auto-approve']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(readFileSync(join(dir, 'agent.txt'), 'utf8')).toBe('agent\n');
    expect(readFileSync(join(dir, 'mine.txt'), 'utf8')).toBe('from the host');
  });

  it('is refused without host-mounts, with another user, and when the folder is missing', async () => {
    const p = project('hostpath-bad', busyboxConfig('  a: { workspace: { hostPath: ./work } }\n'));
    const refused = await p.run(['validate']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "sandboxshift.yaml:10:31: error: using host folder './work' as /workspace is refused for environment 'a': the sandbox reads and writes host files there (at environments.a.workspace.hostPath)\n  hint: add allowDangerous: [host-mounts] to environment 'a' if you really mean it",
    );

    p.write(busyboxConfig('  a: { workspace: { hostPath: ./work }, allowDangerous: [host-mounts] }\n'));
    const missing = await p.run(['plan']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`environment 'a': workspace.hostPath ${join(p.dir, 'work')} does not exist`);

    const dir = join(p.dir, 'work');
    mkdirSync(dir);
    chownSync(dir, 43210, 43210);
    p.write(busyboxConfig('  a: { workspace: { hostPath: ./work }, user: "1000:1000", allowDangerous: [host-mounts] }\n'));
    const conflict = await p.run(['plan']);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain(
      `environment 'a': user 1000:1000 is not the owner 43210:43210 of workspace.hostPath ${dir}; with a host folder as /workspace the container runs as the folder's owner`,
    );
    expect(conflict.stderr).toContain('hint: remove user: (it runs as 43210:43210), set user: "43210:43210", or chown the folder to 1000:1000');

    chownSync(dir, 0, 0);
    p.write(busyboxConfig('  a: { workspace: { hostPath: ./work }, allowDangerous: [host-mounts] }\n'));
    const root = await p.run(['plan']);
    expect(root.code).toBe(1);
    expect(root.stderr).toContain(`environment 'a': workspace.hostPath ${dir} is owned by root (uid 0), so the container would run as root`);

    p.write(busyboxConfig('  a: { workspace: { hostPath: ./work, from: ./seed }, allowDangerous: [host-mounts] }\n'));
    const both = await p.run(['validate']);
    expect(both.stderr).toContain('error: a host folder as /workspace is used as it is: hostPath cannot be combined with from (at environments.a.workspace.hostPath)');
  });
});
