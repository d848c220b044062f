// Issue 9: the seal holds without SandboxShift running, after the ENGINE itself restarts. The
// shared engine is never restarted: this file starts a private dockerd in its own network
// namespace (test/e2e/private-engine.ts), applies there, stops the daemon with SIGTERM, starts
// it again, and checks that the sandbox and its proxy came back by restart policy, still sealed,
// under runc and runsc.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/types.js';
import { LOCK_IMAGE } from '../../src/engine/lock.js';
import { BUILTIN_IMAGES, EGRESS_IMAGE, desiredImage } from '../../src/model/images.js';
import { TEST_IMAGE, busyboxConfig, dockerCli, testProject, type TestProject } from './harness.js';
import { startPrivateEngine, type PrivateEngine } from './private-engine.js';

const RUNTIMES = ['runc', 'runsc'] as const;
const HOST_PORT = 18080;

const config = busyboxConfig(`${RUNTIMES.map((r) => `  ${r}: { runtime: ${r}, egress: { allow: [allowed.test] } }`).join('\n')}\n`, '{ memory: 256m, pids: 64 }');

const NO_ROUTE = /nc: can't connect to remote host \([\d.]+\): No route to host\s+nc-exit=1/;

describe('egress after the engine itself restarts (a private engine)', () => {
  let engine: PrivateEngine;
  let p: TestProject;
  let hostServer: ChildProcess;
  const hits: string[] = [];
  const sandbox = (r: string) => `ss.${p.name}.${r}`;
  const proxy = (r: string) => `${sandbox(r)}.egress`;
  const sh = async (container: string, script: string) => engine.cli(['exec', container, 'sh', '-c', `${script} 2>&1; echo "rc=$?"`]);
  const inspect = async (name: string) => engine.docker.getContainer(name).inspect();

  beforeAll(async () => {
    const egressRef = desiredImage({ project: 'unused' } as Config, BUILTIN_IMAGES[EGRESS_IMAGE]!, true).ref;
    // The proxy image is built on the shared engine by any egress apply; build it if none ran yet.
    await dockerCli(['image', 'inspect', egressRef]).catch(() => dockerCli(['build', '-q', '-t', egressRef, BUILTIN_IMAGES[EGRESS_IMAGE]!.build!.context], 600_000));
    engine = await startPrivateEngine([TEST_IMAGE, LOCK_IMAGE, egressRef]);
    // The engine's host: a server on all its addresses, IPv4 and IPv6, that records every caller.
    hostServer = engine.inNetns([
      process.execPath,
      '-e',
      `require('http').createServer((q, s) => { console.log('hit ' + q.socket.remoteAddress); s.end('host-service'); }).listen(${HOST_PORT}, '::', () => console.log('ready'))`,
    ]);
    await new Promise<void>((resolve, reject) => {
      hostServer.stdout!.on('data', (d: Buffer) => {
        const text = d.toString();
        if (text.includes('ready')) resolve();
        for (const m of text.matchAll(/hit (\S+)/g)) hits.push(m[1]!);
      });
      hostServer.on('exit', (code) => reject(new Error(`host server in the private engine's namespace exited with ${code}`)));
    });
    p = testProject('engine-restart', config);
    const r = await p.run(['apply', '--auto-approve'], { env: { DOCKER_HOST: engine.host } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 600_000);

  afterAll(async () => {
    await engine?.teardown();
    // The project lived on the private engine, gone now; this removes its folder.
    await p?.cleanup();
  });

  /** The host at both gateways, only port 3128 on the proxy, and the proxy refusing a blocked name. */
  const assertSealed = async (r: string, when: string) => {
    const px = await inspect(proxy(r));
    const envNet = px.NetworkSettings.Networks[`${sandbox(r)}.net`]!;
    const outside = px.NetworkSettings.Networks[`ss.${p.name}.egress-out`]!;
    const subnet: string = (await engine.docker.getNetwork(`${sandbox(r)}.net`).inspect()).IPAM?.Config?.[0]?.Subnet ?? '';
    const [a, b, c, d] = subnet.split('/')[0]!.split('.');
    const gateway = `${a}.${b}.${c}.${Number(d) + 1}`;
    for (const target of [gateway, outside.Gateway, outside.IPAddress]) {
      const out = await sh(sandbox(r), `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${target} ${HOST_PORT} 2>&1; echo " nc-exit=$?"`);
      expect(out, `${when}, ${r}: ${target}`).toMatch(NO_ROUTE);
    }
    const ports = '$(seq 1 200) $(seq 3120 3140) 8080 8081';
    const scan = await sh(
      sandbox(r),
      `open=''; other=''; for p in ${ports}; do if m=$(nc -w 1 ${envNet.IPAddress} $p </dev/null 2>&1); then open="$open $p"; else case "$m" in *"Connection refused"*) ;; *) other="$other $p:$m";; esac; fi; done; echo "open:$open other:$other"`,
    );
    expect(scan, `${when}, ${r}: the proxy's ports`).toContain('open: 3128 other:\n');
    const blocked = await sh(sandbox(r), `a=\${HTTP_PROXY#http://}; (printf 'GET http://blocked.test/ HTTP/1.0\\r\\nHost: blocked.test\\r\\n\\r\\n'; sleep 2) | nc -w 10 \${a%:*} \${a##*:}`);
    expect(blocked, `${when}, ${r}: the proxy enforces`).toMatch(/^HTTP\/1\.[01] 403/);
    expect(hits, `${when}: the engine's host saw no connection`).toEqual([]);
  };

  it('is sealed on the private engine, then comes back sealed by restart policy after the engine restarts', async () => {
    for (const r of RUNTIMES) await assertSealed(r, 'before the engine restart');
    const before = new Map<string, string>();
    for (const r of RUNTIMES)
      for (const name of [sandbox(r), proxy(r)]) {
        const info = await inspect(name);
        expect(info.HostConfig.RestartPolicy?.Name, name).toBe('unless-stopped');
        before.set(name, info.State.StartedAt);
      }
    await engine.stop();
    await engine.start();
    // Nothing of SandboxShift runs now: the engine alone brings them back.
    const deadline = Date.now() + 90_000;
    for (const name of before.keys()) {
      for (;;) {
        const info = await inspect(name);
        if (info.State.Running && info.State.StartedAt !== before.get(name)) break;
        if (Date.now() > deadline) {
          const logs = (await engine.docker.getContainer(name).logs({ stdout: true, stderr: true, tail: 5 })).toString();
          throw new Error(
            `${name} did not come back after the engine restart: ${info.State.Status} (exit ${info.State.ExitCode}, restarts ${info.RestartCount}, error '${info.State.Error}'): ${logs}`,
          );
        }
        await new Promise((res) => setTimeout(res, 500));
      }
    }
    // The proxy listens again before the checks.
    for (const r of RUNTIMES) {
      const until = Date.now() + 30_000;
      while (!(await sh(sandbox(r), `nc -w 1 ${(await inspect(proxy(r))).NetworkSettings.Networks[`${sandbox(r)}.net`]!.IPAddress} 3128 </dev/null`)).endsWith('rc=0\n')) {
        if (Date.now() > until) throw new Error(`${proxy(r)} did not listen again`);
        await new Promise((res) => setTimeout(res, 500));
      }
    }
    for (const r of RUNTIMES) await assertSealed(r, 'after the engine restart');
    // And the plan, read from the engine alone, has nothing to do.
    const plan = await p.run(['plan', '--detailed-exitcode'], { env: { DOCKER_HOST: engine.host } });
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
  });
});
