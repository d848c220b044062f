// A container under a project's lock name that sandboxshift did not make (no lock labels: the
// project's, role `lock`, a lock ID) is not a lock of ours: apply and destroy stop and name it,
// and `unlock` never removes it, whatever ID it is given. It is never judged stale either, even
// when some of its labels name this host and a process that is gone.
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { containerState, docker, dockerCli, TEST_IMAGE, testProject, type RunResult, type TestProject } from './harness.js';

const config = `version: 1
project: {{project}}
images:
  busybox: { ref: sandboxshift/busybox:test }
defaults:
  image: busybox
environments:
  a: {}
`;

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

/** The container's ID and state, or null when it is gone. */
async function stateOf(name: string): Promise<{ id: string; status: string } | null> {
  try {
    const c = await docker.getContainer(name).inspect();
    return { id: c.Id, status: c.State.Status };
  } catch {
    return null;
  }
}

describe('a container under the lock name that is not a lock of ours', () => {
  const projects: TestProject[] = [];
  const foreign: string[] = [];
  afterAll(async () => {
    // Made by this test, so removed by it.
    for (const name of foreign) await dockerCli(['rm', '-f', name]).catch(() => undefined);
    for (const p of projects) await p.cleanup();
  });

  const refusal = (project: string) => {
    const name = `ss.${project}.lock`;
    return (
      `error: container ${name} has the name of the lock of project '${project}' but is not a lock sandboxshift made (it lacks the labels io.sandboxshift.project=${project}, io.sandboxshift.role=lock and io.sandboxshift.lock.id); it was left as it is\n` +
      `  hint: sandboxshift does not remove what it did not create: check what it is (docker inspect ${name}), then rename it (docker rename ${name} NEW-NAME) or remove it (docker rm ${name}) yourself, and run the command again\n`
    );
  };
  const refused = (r: RunResult, project: string) => {
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(refusal(project));
    expect(r.stderr).not.toContain('is locked');
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };

  const cases: Array<[string, (project: string) => Promise<Record<string, string>>]> = [
    ['no labels at all', async () => ({})],
    [
      'the project label, this host and a gone pid (a stale lock lookalike), but no role or ID',
      async (project) => ({ 'io.sandboxshift.project': project, 'io.sandboxshift.lock.holder': hostname(), 'io.sandboxshift.lock.pid': String(await deadPid()) }),
    ],
    [
      'role lock and a gone pid of this host, but no lock ID',
      async (project) => ({ 'io.sandboxshift.project': project, 'io.sandboxshift.role': 'lock', 'io.sandboxshift.lock.holder': hostname(), 'io.sandboxshift.lock.pid': String(await deadPid()) }),
    ],
    ['a lock ID and role, but another project', async () => ({ 'io.sandboxshift.project': 'someone-else', 'io.sandboxshift.role': 'lock', 'io.sandboxshift.lock.id': 'feedface' })],
  ];

  for (const [what, labels] of cases) {
    it(`${what}: apply and destroy stop naming it, unlock refuses it for any ID; it still runs`, async () => {
      const p = testProject('lockforeign', config);
      projects.push(p);
      const name = `ss.${p.name}.lock`;
      foreign.push(name);
      const labelArgs = Object.entries(await labels(p.name)).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
      await dockerCli(['run', '-d', '--name', name, '--network', 'none', ...labelArgs, TEST_IMAGE, 'sleep', '1000']);
      const before = await stateOf(name);
      expect(before?.status).toBe('running');

      refused(await p.run(['apply', '--auto-approve']), p.name);
      expect(await stateOf(name)).toEqual(before);
      expect(await containerState(p.name, 'a')).toBeNull();

      refused(await p.run(['destroy', '--auto-approve']), p.name);
      expect(await stateOf(name)).toEqual(before);

      for (const id of ['unknown', 'feedface', 'deadbeef']) {
        refused(await p.run(['unlock', id]), p.name);
        expect(await stateOf(name)).toEqual(before);
      }
    });
  }
});
