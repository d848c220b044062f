// A full destroy leaves nothing of the project on the engine but its workspace volumes and the
// applied-commit record: the outside network, and idle and touch records, go too. A network
// with our outside network's name that sandboxshift did not create is left alone and reported.
import { afterAll, describe, expect, it } from 'vitest';
import { recordAppliedCommit } from '../../src/engine/applied-record.js';
import { recordIdle } from '../../src/engine/idle-record.js';
import { busyboxConfig, containerOf, docker, dockerCli, testProject, type TestProject } from './harness.js';

const projectLabel = (p: TestProject) => `label=io.sandboxshift.project=${p.name}`;
const lines = (out: string) => out.split('\n').filter((l) => l.trim() !== '');

describe('destroy leaves nothing of ours behind', () => {
  const p = testProject('cleanup', busyboxConfig(`  agent: { egress: { allow: [allowed.test] } }\n  plain: {}\n`));
  const lookAlike = testProject('cleanup-look', busyboxConfig('  solo: {}\n'));
  afterAll(async () => {
    await p.cleanup();
    await lookAlike.cleanup();
    // Not ours, so removeProject does not see it: the test made it, the test removes it.
    await dockerCli(['network', 'rm', `ss.${lookAlike.name}.egress-out`]).catch(() => undefined);
  });

  it('removes the outside network and the idle and touch records, and keeps the applied-commit record', async () => {
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stderr).toBe(0);
    // What a watcher's idle policy and `sandboxshift touch` leave on the engine.
    const plain = await docker.getContainer(containerOf(p.name, 'plain')).inspect();
    await dockerCli(['stop', '-t', '1', plain.Id]);
    await recordIdle(docker, p.name, { environment: 'plain', since: new Date().toISOString(), action: 'stop', containerId: plain.Id });
    const touched = await p.run(['touch', 'agent']);
    expect(touched.code, touched.stderr).toBe(0);
    await recordAppliedCommit(docker, p.name, { commit: '5d6e7f8a', at: new Date().toISOString(), by: 'watch@e2e' });
    const before = lines(await dockerCli(['ps', '-a', '--filter', projectLabel(p), '--format', '{{.Label "io.sandboxshift.role"}}']));
    expect(before.sort()).toEqual(['applied-commit', 'egress', 'environment', 'environment', 'idle-stopped', 'touch']);
    expect(lines(await dockerCli(['network', 'ls', '--filter', projectLabel(p), '--format', '{{.Name}}'])).sort()).toEqual([`ss.${p.name}.agent.net`, `ss.${p.name}.egress-out`]);

    const destroyed = await p.run(['destroy', '--auto-approve']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stdout).toContain('- network.egress-out will be destroyed');
    expect(destroyed.stdout).toContain(`network:   ss.${p.name}.egress-out`);
    expect(destroyed.stdout).toContain('because:   destroy; /workspace volume kept\n                 its idle, touch and copying records removed');
    expect(destroyed.stdout).toContain('Plan: 0 to add, 0 to change, 3 to destroy.');

    const left = lines(await dockerCli(['ps', '-a', '--filter', projectLabel(p), '--format', '{{.Names}} {{.Label "io.sandboxshift.role"}}']));
    expect(left).toEqual([`ss.${p.name}.applied-5d6e7f8a applied-commit`]);
    expect(lines(await dockerCli(['network', 'ls', '--filter', projectLabel(p), '--format', '{{.Name}}']))).toEqual([]);
    // The next destroy has nothing left to do.
    const again = await p.run(['destroy', '--auto-approve']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('will be destroyed');
  });

  it('leaves a network with the outside network’s name but not our labels alone, and says so', async () => {
    const name = `ss.${lookAlike.name}.egress-out`;
    const id = (await dockerCli(['network', 'create', name])).trim();
    const applied = await lookAlike.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stderr).toBe(0);
    const destroyed = await lookAlike.run(['destroy', '--auto-approve']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stdout + destroyed.stderr).toContain(
      `warning: network ${name} (${id.slice(0, 12)}) has the name of this project's outside network but was not created by sandboxshift: destroy leaves it alone`,
    );
    expect(destroyed.stdout).not.toContain('network.egress-out');
    expect((await dockerCli(['network', 'inspect', '--format', '{{.Id}}', name])).trim()).toBe(id);
  });
});
