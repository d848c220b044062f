// What a proxy enforces, checked against the proxy itself: a policy file changed inside the
// proxy by hand (docker cp) is reloaded by the proxy at once, and a forged egress-policy record
// can claim a list the proxy does not enforce. Neither shows in the label or the records, so
// `egress ENV` and `plan --refresh=full` read the proxy's own policy hash from its stats file.
// Found by the adversary pass: both used to say the proxy enforced the config's list.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policyHash } from '../../src/model/egress.js';
import { readProxyStats } from '../../src/engine/proxy-stats.js';
import { TEST_IMAGE, busyboxConfig, docker, dockerCli, testProject, type TestProject } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('an egress proxy whose policy changed behind its labels and records', () => {
  let p: TestProject;
  const forged: string[] = [];
  const config = (allow: string[]) => busyboxConfig(`  agent: { egress: { allow: [${allow.join(', ')}] } }\n`, '{ memory: 64m, pids: 64 }');
  const proxy = () => `ss.${p.name}.agent.egress`;
  /**
   * Waits until the proxy logged (so loaded) the policy with `hash` and wrote it to its stats file
   * (rewritten at most once a second: what `egress ENV` and a full refresh read).
   */
  const loaded = async (hash: string) => {
    for (let i = 0; i < 100; i++) {
      const logged = (await dockerCli(['logs', proxy()])).includes(`"hash":"${hash}"`);
      if (logged && (await readProxyStats(docker, proxy())).stats?.policyHash === hash) return;
      await sleep(100);
    }
    throw new Error(`proxy never loaded ${hash}`);
  };
  const egress = async () => JSON.parse((await p.run(['egress', 'agent', '--json'])).stdout) as { policy: Record<string, unknown>; notes: string[] };

  beforeAll(async () => {
    p = testProject('eghand', config(['pypi.org']));
    const r = await p.run(['apply', '--auto-approve']);
    if (r.code !== 0) throw new Error(r.stdout + r.stderr);
  }, 120_000);

  afterAll(async () => {
    for (const id of forged)
      await docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
    await p?.cleanup();
  }, 60_000);

  it('a policy file copied into the proxy by hand: egress ENV says so, plan --refresh=full reloads the configured list', async () => {
    const wider = ['pypi.org', 'evil.example.com'];
    writeFileSync(join(p.dir, 'evil.json'), JSON.stringify({ allow: wider }));
    await dockerCli(['cp', join(p.dir, 'evil.json'), `${proxy()}:/etc/sandboxshift/egress.json`]);
    await loaded(policyHash(wider));

    const e = await egress();
    expect(e.policy).toMatchObject({ hash: policyHash(['pypi.org']), enforced_hash: policyHash(wider), enforced_from: 'unknown', apply_pending: true });
    expect(e.notes).toContain(
      `the proxy reports policy ${policyHash(wider)}, not the ${policyHash(['pypi.org'])} its label says: its policy file was changed outside sandboxshift; sandboxshift apply --refresh=full reloads the configured list`,
    );

    const plan = await p.run(['plan', '--refresh=full', '--detailed-exitcode']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain(`~ environment.agent will be updated in place`);
    expect(plan.stdout).toContain(
      `it reports policy ${policyHash(wider)}, not the ${policyHash(['pypi.org'])} its label says (its policy file was changed outside sandboxshift) (policy reloaded in place)`,
    );

    const apply = await p.run(['apply', '--refresh=full', '--auto-approve']);
    expect(apply.code).toBe(0);
    expect((await p.run(['plan', '--refresh=full', '--detailed-exitcode'])).code).toBe(0);
    expect((await egress()).policy).toMatchObject({ enforced_hash: policyHash(['pypi.org']), enforced_from: 'record', apply_pending: false });
  }, 90_000);

  it('a forged egress-policy record claiming the config’s new list does not hide that the proxy still enforces the old one', async () => {
    p.write(config(['pypi.org', 'api.example.com']));
    const proxyId = (await docker.getContainer(proxy()).inspect()).Id;
    for (const r of await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`, 'io.sandboxshift.role=egress-policy'] } })) {
      await docker.getContainer(r.Id).remove({ force: true });
    }
    const c = await docker.createContainer({
      name: `adv-forged-${p.name}`,
      Image: TEST_IMAGE,
      Labels: {
        'io.sandboxshift.project': p.name,
        'io.sandboxshift.environment': 'agent',
        'io.sandboxshift.role': 'egress-policy',
        'io.sandboxshift.egress.proxy-id': proxyId,
        'io.sandboxshift.egress.policy-state': 'enforced',
        'io.sandboxshift.egress.allow': JSON.stringify(['pypi.org', 'api.example.com']),
      },
    });
    forged.push(c.id);

    const plan = await p.run(['plan', '--refresh=full', '--detailed-exitcode']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain(`it reports policy ${policyHash(['pypi.org'])}, not the ${policyHash(['pypi.org', 'api.example.com'])} its record says`);
    const apply = await p.run(['apply', '--refresh=full', '--auto-approve']);
    expect(apply.code).toBe(0);
    expect((await p.run(['plan', '--refresh=full', '--detailed-exitcode'])).code).toBe(0);
    expect((await egress()).policy).toMatchObject({ enforced_hash: policyHash(['pypi.org', 'api.example.com']), enforced_from: 'record', apply_pending: false });
  }, 90_000);
});
