// No workspace or secret lost to a crash or a surprise, on the real engine: a look-alike volume
// is never written to, a SIGKILLed apply never looks finished, seeds come only from the
// config's folder, and a renamed environment takes its files along.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, containerOf, containerState, docker, dockerCli, execIn, readWorkspaceFile, trackedProjects, volumeExists, volumeOf } from './harness.js';

const tracked = trackedProjects();
const { project, foreignVolumes } = tracked;
afterAll(tracked.cleanup);

const busybox = (env: string) => `
version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  ${env}
`;

/** Writes a file into a volume as root through a throwaway container, as a user restoring a backup would. */
async function fillVolume(volume: string, file: string, content: string): Promise<void> {
  await dockerCli(['volume', 'create', volume]);
  await dockerCli(['run', '--rm', '--user', '0', '-v', `${volume}:/v`, 'sandboxshift/busybox:test', 'sh', '-c', `printf '%s' '${content}' > /v/${file}`]);
}

async function volumeFiles(volume: string): Promise<string> {
  return dockerCli(['run', '--rm', '-v', `${volume}:/v:ro`, 'sandboxshift/busybox:test', 'sh', '-c', 'cd /v && ls -A | sort && cat backup.txt 2>/dev/null || true']);
}

describe('a volume named like a workspace that sandboxshift did not create', () => {
  it('is refused, never seeded over, and adopted as it is only when asked', async () => {
    const p = project('foreign', busybox('a: { image: busybox, workspace: { from: ./seed } }'));
    mkdirSync(join(p.dir, 'seed'));
    writeFileSync(join(p.dir, 'seed', 'seed.txt'), 'from the seed');
    const vol = volumeOf(p.name, 'a');
    foreignVolumes.push(vol);
    await fillVolume(vol, 'backup.txt', 'precious');

    const planned = await p.run(['plan']);
    expect(planned.code).toBe(1);
    expect(planned.stderr).toContain(`environment 'a': volume ${vol} already exists and was not created by sandboxshift (no labels); it is not mounted, seeded or changed`);
    expect(planned.stderr).toContain('adopt it as they are with workspace: { adopt: true }');
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code).toBe(1);
    expect(applied.stderr).toContain('was not created by sandboxshift');
    expect(await containerState(p.name, 'a')).toBeNull();
    expect(await volumeFiles(vol)).toBe('backup.txt\nprecious');

    p.write(busybox('a: { image: busybox, workspace: { adopt: true } }'));
    const adopt = await p.run(['plan']);
    expect(adopt.stdout).toContain(`because:   adopts volume ${vol}, which sandboxshift did not create: mounted as /workspace as it is (nothing seeded; never purged)`);
    expect(adopt.stdout).toContain(`workspace: existing volume ${vol} adopted as it is`);
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    expect(await readWorkspaceFile(containerOf(p.name, 'a'), 'backup.txt')).toBe('precious');
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);

    // Never purged: it is not ours to delete.
    const destroyed = await p.run(['destroy', '--auto-approve', '--purge-volumes']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(await volumeFiles(vol)).toBe('backup.txt\nprecious');
  });
});

describe('an apply killed between creating a container and finishing it', () => {
  it('never looks done: the next plan says why and apply redoes secrets, seed and start', async () => {
    const p = project('halfmade', busybox('a: { image: busybox, command: "sleep 3600", workspace: { from: ./seed }, secrets: { token: { fromEnv: SS_TEST_TOKEN } } }'));
    // A seed big enough that copying it takes a moment: the kill lands inside that window.
    mkdirSync(join(p.dir, 'seed'));
    const chunk = Buffer.alloc(1024 * 1024, 7);
    for (let i = 0; i < 120; i++) writeFileSync(join(p.dir, 'seed', `f${String(i).padStart(3, '0')}.bin`), chunk);
    writeFileSync(join(p.dir, 'seed', 'last.txt'), 'complete');
    const env = { ...process.env, NO_COLOR: '1', CI: 'true', SS_TEST_TOKEN: 'tok-value-1' };

    const child = spawn(process.execPath, [CLI, 'apply', '--auto-approve'], { cwd: p.dir, env, stdio: 'ignore' });
    const exited = new Promise((r) => child.on('close', r));
    const name = containerOf(p.name, 'a');
    const deadline = Date.now() + 60_000;
    let state: string | null = null;
    while (Date.now() < deadline && state !== 'created') {
      state = await containerState(p.name, 'a');
      if (state !== 'created') await new Promise((r) => setTimeout(r, 10));
    }
    expect(state).toBe('created');
    child.kill('SIGKILL');
    await exited;
    expect(await containerState(p.name, 'a')).toBe('created');

    const planned = await p.run(['plan', '--detailed-exitcode'], { env: { SS_TEST_TOKEN: 'tok-value-1' } });
    expect(planned.code, planned.stderr).toBe(2);
    expect(planned.stdout).toContain('-/+ environment.a must be replaced');
    expect(planned.stdout).toContain('never started: an earlier apply was interrupted or failed before it finished (it is made again, secrets and start included)');
    expect(planned.stdout).toContain(
      'its /workspace was never completely filled (an earlier apply was interrupted): the seed is done again into it (files of the same name overwritten, nothing deleted)',
    );

    // The killed run left its lock; it is released by id, as the locked error says.
    const locks = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=lock'] } });
    for (const l of locks) await p.run(['unlock', l.Labels['io.sandboxshift.lock.id'] ?? '']);

    // The user removes the broken environment and writes into its volume meanwhile: the next
    // apply still knows the fill never finished, fills again, and deletes nothing of theirs.
    expect((await p.run(['destroy', '--auto-approve'])).code).toBe(0);
    expect(await containerState(p.name, 'a')).toBeNull();
    await dockerCli(['run', '--rm', '--user', '0', '-v', `${volumeOf(p.name, 'a')}:/w`, 'sandboxshift/busybox:test', 'sh', '-c', 'echo mine > /w/mine.txt']);
    const replanned = await p.run(['plan'], { env: { SS_TEST_TOKEN: 'tok-value-1' } });
    expect(replanned.stdout).toContain('its /workspace was never completely filled (an earlier apply was interrupted): the seed is done again into it');
    const applied = await p.run(['apply', '--auto-approve'], { env: { SS_TEST_TOKEN: 'tok-value-1' } });
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(await containerState(p.name, 'a')).toBe('running');
    expect(await readWorkspaceFile(name, 'last.txt')).toBe('complete');
    expect((await execIn(name, ['sh', '-c', 'ls /workspace | wc -l'])).trim()).toBe('122');
    expect(await readWorkspaceFile(name, 'mine.txt')).toBe('mine\n');
    expect(await execIn(name, ['cat', '/run/secrets/token'])).toBe('tok-value-1');
    const again = await p.run(['plan', '--detailed-exitcode'], { env: { SS_TEST_TOKEN: 'tok-value-1' } });
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).not.toContain('tok-value-1');
  });
});

describe('workspace seeds', () => {
  it('refuses a folder outside the config folder and shows the source in the plan', async () => {
    const p = project('seedpath', busybox('a: { image: busybox, workspace: { from: ../ } }'));
    const refused = await p.run(['validate']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /seeding \/workspace from '\.\.\/' \(\/[^)]+\), outside the config's folder \/\S+ is refused for environment 'a': it copies host files the sandbox should not see into it/,
    );
    expect(refused.stderr).toContain("hint: add allowDangerous: [host-mounts] to environment 'a' if you really mean it");

    mkdirSync(join(p.dir, 'seed'));
    writeFileSync(join(p.dir, 'seed', 'x.txt'), 'x');
    p.write(busybox('a: { image: busybox, workspace: { from: ./seed } }'));
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain(`workspace: new volume ${volumeOf(p.name, 'a')}, seeded once from folder ${join(p.dir, 'seed')}`);
    const json = JSON.parse((await p.run(['plan', '--format', 'json'])).stdout) as { resource_changes: Array<{ change: { after: { seed?: string } } }> };
    expect(json.resource_changes[0]?.change.after.seed).toBe(`folder ${join(p.dir, 'seed')}`);
    const md = await p.run(['plan', '--format', 'markdown']);
    expect(md.stdout).toContain(`seeded once from \`folder ${join(p.dir, 'seed')}\``);
  });
});

describe('moved', () => {
  it('a renamed environment takes its files along; without moved the plan names the orphan', async () => {
    const p = project('moved', busybox('old: { image: busybox, command: "sleep 3600" }'));
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    await execIn(containerOf(p.name, 'old'), ['sh', '-c', 'mkdir -p /workspace/src && echo work-in-progress > /workspace/src/notes.txt']);

    p.write(busybox('new: { image: busybox, command: "sleep 3600" }'));
    const unhinted = await p.run(['plan']);
    expect(unhinted.stdout).toContain(
      `workspace ${volumeOf(p.name, 'old')} belongs to no environment in the config: 'old' was removed or renamed (its container is removed by this plan); the volume is kept`,
    );
    expect(unhinted.stdout).toContain("if 'old' was renamed to 'new', add moved: [{ from: old, to: new }] so its files follow");

    // The new name also runs as another user: the moved files must be its own, and writable.
    p.write(`${busybox('new: { image: busybox, command: "sleep 3600", user: "1000:1000" }')}moved:\n  - { from: old, to: new }\n`);
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain('moved to environment.new (moved): container removed; /workspace volume kept and copied');
    expect(planned.stdout).toContain(`workspace: new volume ${volumeOf(p.name, 'new')}, its files copied from ${volumeOf(p.name, 'old')}`);
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(await containerState(p.name, 'old')).toBeNull();
    const name = containerOf(p.name, 'new');
    expect(await readWorkspaceFile(name, 'src/notes.txt')).toBe('work-in-progress\n');
    // (The /workspace folder itself comes from the image, like any new volume's; any-UID images are issue 11's.)
    expect((await execIn(name, ['stat', '-c', '%u:%g', '/workspace/src/notes.txt', '/workspace/src'])).trim()).toBe('1000:1000\n1000:1000');
    await execIn(name, ['sh', '-c', 'echo more >> /workspace/src/notes.txt && touch /workspace/src/new-file']);
    // The old volume is kept until the user deletes it; the next plan has nothing to do.
    expect(await volumeExists(volumeOf(p.name, 'old'))).toBe(true);
    const again = await p.run(['plan', '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain(`workspace ${volumeOf(p.name, 'old')} of environment 'old' was copied to 'new' (moved) and is kept`);
    const status = await p.run(['status']);
    expect(status.stdout).toMatch(new RegExp(`^old\\s+orphaned\\s+-\\s+-\\s+${volumeOf(p.name, 'old').replaceAll('.', '\\.')}$`, 'm'));
    expect(status.stdout).toContain(`${volumeOf(p.name, 'old')} is orphaned: moved to new; kept until destroy --purge-volumes --target old`);
    const rows = (JSON.parse((await p.run(['status', '--json'])).stdout) as { environments: Array<{ name: string; state: string }> }).environments;
    expect(rows.map((r) => [r.name, r.state])).toEqual([
      ['new', 'running'],
      ['old', 'orphaned'],
    ]);
    const leftovers = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=helper'] } });
    expect(leftovers).toEqual([]);
  });
});

describe('an environment whose container is gone but whose egress proxy and network are left', () => {
  it('destroy removes the proxy and the network too', async () => {
    const p = project('leftover', busybox('a: { image: busybox, command: "sleep 3600", egress: { allow: [example.test] } }'));
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    await dockerCli(['rm', '-f', containerOf(p.name, 'a')]);
    const d = await p.run(['destroy', '--auto-approve']);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    expect(d.stdout).toContain('leftover egress proxy and network removed (no container uses them)');
    const left = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=egress'] } });
    expect(left).toEqual([]);
    const nets = await docker.listNetworks({ filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=network'] } });
    expect(nets).toEqual([]);
  });
});

describe('an egress network made without the gateway isolated (an older version)', () => {
  it('is planned again before the environment joins it, and comes back with no host address', async () => {
    const p = project('opengw', busybox('a: { image: busybox, command: "sleep 3600", egress: { allow: [example.test] } }'));
    expect((await p.run(['apply', '--auto-approve'])).code).toBe(0);
    const netName = `ss.${p.name}.a.net`;
    const net = await docker.getNetwork(netName).inspect();
    // Made again as an older version made it: same labels and subnet, no isolation option.
    await dockerCli(['rm', '-f', containerOf(p.name, 'a'), `ss.${p.name}.a.egress`]);
    await dockerCli(['network', 'rm', netName]);
    const labels = Object.entries(net.Labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    await dockerCli(['network', 'create', '--internal', '--subnet', net.IPAM?.Config?.[0]?.Subnet ?? '', ...labels, netName]);
    const planned = await p.run(['plan']);
    expect(planned.stdout).toContain("egress network lets the sandbox reach the host at the network's gateway address: network and proxy made again with the gateway isolated");
    const json = JSON.parse((await p.run(['plan', '--format', 'json'])).stdout) as { resource_changes: Array<{ address: string; steps: string[] }> };
    expect(json.resource_changes.find((c) => c.address === 'environment.a')?.steps.slice(0, 2)).toEqual(['remove-network', 'create-network']);
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    const remade = await docker.getNetwork(netName).inspect();
    expect(remade.Options?.['com.docker.network.bridge.inhibit_ipv4']).toBe('true');
    expect((await p.run(['plan', '--detailed-exitcode'])).code).toBe(0);
  });
});

describe('engine objects with our names that we did not create', () => {
  it('a look-alike outside network is never joined: apply stops naming it, and nothing is connected to it', async () => {
    const p = project('foreignnet', busybox('a: { image: busybox, command: "sleep 3600", egress: { allow: [example.test] } }'));
    const net = `ss.${p.name}.egress-out`;
    await dockerCli(['network', 'create', net]);
    try {
      const applied = await p.run(['apply', '--auto-approve']);
      expect(applied.code).toBe(1);
      expect(applied.stdout + applied.stderr).toContain(
        `network ${net} exists but was not created by sandboxshift for project ${p.name}; it is left alone: rename or remove it yourself, then apply again`,
      );
      const info = (await docker.getNetwork(net).inspect()) as { Containers?: Record<string, unknown> };
      expect(Object.keys(info.Containers ?? {})).toEqual([]);
      expect(await containerState(p.name, 'a')).toBeNull();
    } finally {
      await dockerCli(['network', 'rm', net]);
    }
  });
});
