// destroy stops and removes containers of deleted environments many at once, beyond
// --parallelism; each process must still get its stop signal and the time to act on it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerState, dockerCli, TEST_IMAGE, testProject, volumeOf, type TestProject } from './harness.js';

const COUNT = 6;
const envs = Array.from({ length: COUNT }, (_, i) => `  g${i}: {}`).join('\n');
// The handler runs only on SIGTERM: a SIGKILL (or a stop that never signals) leaves no file.
const CONFIG = `version: 1
project: {{project}}
images:
  busybox: { ref: ${TEST_IMAGE} }
defaults:
  image: busybox
  resources: { cpus: 0.2, memory: 32m, pids: 16 }
  command: "trap 'echo got-sigterm > /workspace/stopped; exit 0' TERM; while true; do sleep 1; done"
environments:
${envs}
`;

describe('destroy, many at once', () => {
  let p: TestProject;
  beforeAll(async () => {
    p = testProject('graceful', CONFIG);
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => p.cleanup());

  it('with --parallelism 1, every process still gets SIGTERM and its handler runs before removal', async () => {
    const r = await p.run(['destroy', '--auto-approve', '--parallelism', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Destroy complete! Resources: 0 added, 0 changed, ${COUNT} destroyed.`);
    for (let i = 0; i < COUNT; i++) {
      expect(await containerState(p.name, `g${i}`)).toBeNull();
      const out = await dockerCli(['run', '--rm', '--network', 'none', '-v', `${volumeOf(p.name, `g${i}`)}:/w:ro`, TEST_IMAGE, 'cat', '/w/stopped']);
      expect(out, `environment g${i}`).toBe('got-sigterm\n');
    }
  });
});
