// protect recorded on the engine (a later change is planned, applied and followed by destroy),
// and security drift: a look-alike container with our labels copied is found and replaced.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxConfig, containerOf, docker, dockerCli, testProject, volumeExists, volumeOf, type TestProject } from './harness.js';

const config = (envs: string) => busyboxConfig(`${envs}\n`);

/** Our protect records of an environment: name → [protect label, state]. */
async function records(project: string, env: string): Promise<Record<string, [string, string]>> {
  const found = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${project}`, 'io.sandboxshift.role=protect', `io.sandboxshift.environment=${env}`] } });
  return Object.fromEntries(found.map((c) => [c.Names[0]!.slice(1), [c.Labels['io.sandboxshift.protect']!, c.State]]));
}

describe('protect, changed after creation', () => {
  let p: TestProject;
  beforeAll(async () => {
    p = testProject('protect', config('  keeper: {}\n  squat: {}'));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => p.cleanup());

  it('turning protect on is a planned in-place update, recorded without a restart', async () => {
    p.write(config('  keeper: { protect: true }\n  squat: {}'));
    const planned = await p.run(['plan', '--detailed-exitcode']);
    expect(planned.code, planned.stderr).toBe(2);
    expect(planned.stdout).toContain('  ~ environment.keeper will be updated in place\n      because:   protect: false → true (recorded on the engine; nothing restarts)\n      data:      none\n');
    const before = await docker.getContainer(containerOf(p.name, 'keeper')).inspect();
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Apply complete! Resources: 0 added, 1 changed, 0 destroyed.');
    const after = await docker.getContainer(containerOf(p.name, 'keeper')).inspect();
    expect([after.Id, after.State.StartedAt]).toEqual([before.Id, before.State.StartedAt]);
    expect(await records(p.name, 'keeper')).toEqual({ [`ss.${p.name}.keeper.protect-on`]: ['true', 'created'] });
    const again = await p.run(['plan', '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain('No changes. 2 environments match the configuration.');
  });

  it('a protected workspace is not purged once its environment is gone from the config', async () => {
    p.write(config('  squat: {}'));
    const r = await p.run(['destroy', '--purge-volumes', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`environment 'keeper' is protected (protect: true); --purge-volumes will not delete its /workspace volume ss.${p.name}.keeper.workspace`);
    expect(await volumeExists(volumeOf(p.name, 'keeper'))).toBe(true);
  });

  it('turning protect off is shown as security-relevant first, exits 2, and then purge works', async () => {
    p.write(config('  keeper: {}\n  squat: {}'));
    const planned = await p.run(['plan', '--detailed-exitcode']);
    expect(planned.code, planned.stderr).toBe(2);
    expect(planned.stdout).toContain('  ~ environment.keeper will be updated in place\n      ! security: protect removed\n      because:   protect: true → false');
    const json = JSON.parse((await p.run(['plan', '--json'])).stdout);
    expect(json.resource_changes.find((c: { name: string }) => c.name === 'keeper')).toMatchObject({ kind: 'update', steps: ['record-protect'], security: ['protect removed'], data_effect: 'none' });
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(await records(p.name, 'keeper')).toEqual({ [`ss.${p.name}.keeper.protect-off`]: ['false', 'created'] });
    const purge = await p.run(['destroy', '--purge-volumes', '--target', 'keeper', '--auto-approve']);
    expect(purge.code, purge.stderr).toBe(0);
    expect(purge.stdout).toContain('/workspace volume DELETED');
    expect(await volumeExists(volumeOf(p.name, 'keeper'))).toBe(false);
    expect(await records(p.name, 'keeper')).toEqual({});
  });

  it('never writes into a container of the record name that sandboxshift did not create', async () => {
    const squatter = `ss.${p.name}.squat.protect-on`;
    await dockerCli(['create', '--name', squatter, '--label', 'owner=someone-else', 'sandboxshift/busybox:test', 'true']);
    try {
      p.write(config('  squat: { protect: true }'));
      const r = await p.run(['apply', '--auto-approve']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`a container named ${squatter} exists that sandboxshift did not create as this protect record; rename or remove it, then apply again`);
      const labels = (await docker.getContainer(squatter).inspect()).Config.Labels;
      expect(labels['owner']).toBe('someone-else');
      expect(labels['io.sandboxshift.project']).toBeUndefined();
    } finally {
      await dockerCli(['rm', '-f', squatter]);
    }
  });
});

describe('security drift', () => {
  let p: TestProject;
  beforeAll(async () => {
    p = testProject('drift', config('  agent: { command: ["sleep", "infinity"] }'));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => p.cleanup());

  it('refuses an unknown --refresh mode with advice', async () => {
    const r = await p.run(['plan', '--refresh=bogus']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("plan: --refresh must be 'list' or 'full', got 'bogus'");
    expect(r.stderr).toContain('hint: use --refresh=full');
  });

  it('a full refresh of a container as sandboxshift made it finds nothing', async () => {
    const r = await p.run(['plan', '--refresh=full', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('No changes. 1 environment matches the configuration.');
    const applied = await p.run(['apply', '--refresh=full', '--auto-approve']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('No changes. 1 environment matches the configuration.');
  });

  it('finds a hand-made look-alike with our labels, and apply puts the hardened one back', async () => {
    const name = containerOf(p.name, 'agent');
    const labels = (await docker.getContainer(name).inspect()).Config.Labels;
    const host = join(p.dir, 'x');
    mkdirSync(host);
    await dockerCli(['rm', '-f', name]);
    const copied = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    // Not --cap-add ALL: this engine's own bounding set lacks CAP_SYS_RESOURCE, so runc refuses it.
    const caps = ['--cap-add', 'SYS_ADMIN', '--cap-add', 'NET_ADMIN'];
    await dockerCli(['run', '-d', '--name', name, ...copied, '--user', '0', ...caps, '--network', 'bridge', '-v', `${host}:/host`, 'sandboxshift/busybox:test', 'sleep', 'infinity']);

    const listed = await p.run(['plan', '--detailed-exitcode']);
    expect(listed.code, listed.stderr).toBe(2);
    expect(listed.stdout).toContain(`-/+ environment.agent must be replaced
      ! security: hardening changed outside sandboxshift (network, mounts); apply recreates it as configured
      because:   changed outside sandboxshift: network is bridge (config: none)
                 changed outside sandboxshift: also attached to bridge (config: none only)
                 changed outside sandboxshift: nothing mounted at /workspace (config: volume ss.${p.name}.agent.workspace)
                 changed outside sandboxshift: host path ${host} mounted at /host (config: not mounted)
`);
    expect(listed.stdout).not.toContain('user is 0');

    const full = await p.run(['plan', '--refresh=full']);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toContain(`-/+ environment.agent must be replaced
      ! security: hardening changed outside sandboxshift (network, mounts, user, capabilities, security_opt, resources.pids); apply recreates it as configured
      because:   changed outside sandboxshift: network is bridge (config: none)
                 changed outside sandboxshift: also attached to bridge (config: none only)
                 changed outside sandboxshift: nothing mounted at /workspace (config: volume ss.${p.name}.agent.workspace)
                 changed outside sandboxshift: host path ${host} mounted at /host (config: not mounted)
                 changed outside sandboxshift: user is 0 (config: 65532:65532)
                 changed outside sandboxshift: capabilities added: CAP_NET_ADMIN, CAP_SYS_ADMIN (config: none added)
                 changed outside sandboxshift: capabilities dropped: none (config: ALL dropped)
                 changed outside sandboxshift: no-new-privileges is off (config: on)
                 changed outside sandboxshift: pids limit removed (config: limited)
`);

    // The saved plan records the full refresh, so apply looks as closely and finds it still holds.
    const saved = await p.run(['plan', '--refresh=full', '--out', 'full.json']);
    expect(saved.code, saved.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(p.dir, 'full.json'), 'utf8')).refresh).toBe('full');
    const r = await p.run(['apply', 'full.json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Apply complete! Resources: 1 added, 0 changed, 1 destroyed.');
    const now = await docker.getContainer(name).inspect();
    expect({
      user: now.Config.User,
      capAdd: now.HostConfig.CapAdd ?? [],
      capDrop: now.HostConfig.CapDrop,
      securityOpt: now.HostConfig.SecurityOpt,
      network: now.HostConfig.NetworkMode,
      networks: Object.keys(now.NetworkSettings.Networks),
      mounts: now.Mounts.map((m) => `${m.Type}:${m.Name ?? m.Source}:${m.Destination}`),
    }).toEqual({
      user: '65532:65532',
      capAdd: [],
      capDrop: ['ALL'],
      securityOpt: ['no-new-privileges:true'],
      network: 'none',
      networks: ['none'],
      mounts: [`volume:${volumeOf(p.name, 'agent')}:/workspace`],
    });
    const after = await p.run(['plan', '--refresh=full', '--detailed-exitcode']);
    expect(after.code, after.stdout).toBe(0);
    const destroyed = await p.run(['destroy', '--refresh=full', '--auto-approve']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stdout).toContain('Destroy complete! Resources: 0 added, 0 changed, 1 destroyed.');
  });
});
