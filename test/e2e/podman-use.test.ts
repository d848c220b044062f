// exec and cp against Podman's Docker-compatible API: the agent workflow on the other engine.
// Both take their short paths there too (the engine is a plain socket), and give the same
// answers as the full ones; the secret is loaded into an exec, and cp's confinement holds.
import './use-podman.js';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxConfig, docker, requirePodman, runListingModules, testProject, type TestProject } from './harness.js';

const SECRET = 'podman-use-secret-5c21';

describe('Podman: exec and cp', () => {
  let p: TestProject;
  let host: string;
  const env = { SANDBOXSHIFT_PODMAN_USE_KEY: SECRET };
  beforeAll(async () => {
    await requirePodman();
    expect((await docker.version()).Components?.map((c) => c.Name)).toContain('Podman Engine');
    p = testProject('podman-use', busyboxConfig('  dev:\n    secrets:\n      api_key: { fromEnv: SANDBOXSHIFT_PODMAN_USE_KEY }\n', '{ cpus: 0.25, memory: 32m, pids: 32 }'));
    host = mkdtempSync(join(tmpdir(), 'ss-podman-use-'));
    const r = await p.run(['apply', '--auto-approve'], { env });
    expect(r.code, r.stderr).toBe(0);
  }, 180_000);
  afterAll(async () => {
    await p?.cleanup();
    rmSync(host, { recursive: true, force: true });
  });

  /** The same command through the short path (config cache warm) and the full one, which must agree. */
  const both = async (args: string[]) => {
    const short = await runListingModules(p, args, env);
    const full = await runListingModules(p, args, { ...env, SANDBOXSHIFT_NO_CONFIG_CACHE: '1' });
    expect(full.r).toEqual(short.r);
    expect(short.modules.some((m) => m.endsWith(`/${args[0]}-short-path.cjs`))).toBe(true);
    expect(short.modules.filter((m) => m.startsWith('file:'))).toEqual([]);
    return short.r;
  };

  it("exec runs as the environment's user in /workspace with the secret loaded, streams apart, its exit code returned", async () => {
    const r = await both(['exec', 'dev', 'sh', '-c', 'id -u; pwd; printf %s "$API_KEY" | md5sum; echo err >&2; exit 3']);
    // The secret's digest, not the secret: it is on no command line and in no output.
    const digest = createHash('md5').update(SECRET).digest('hex');
    expect(r).toEqual({ code: 3, stdout: `65532\n/workspace\n${digest}  -\n`, stderr: 'err\n' });
    const piped = await p.run(['exec', 'dev', 'cat'], { env, input: 'through stdin\n' });
    expect(piped).toEqual({ code: 0, stdout: 'through stdin\n', stderr: '' });
  }, 60_000);

  it("cp copies in (owned by the environment's user) and out, and refuses a symlink that points out, both ways", async () => {
    writeFileSync(join(host, 'f.txt'), 'podman\n');
    expect(await both(['cp', join(host, 'f.txt'), 'dev:f.txt'])).toEqual({ code: 0, stdout: '', stderr: 'Successfully copied 1 file (7 B) to dev:f.txt\n' });
    expect(await p.run(['exec', 'dev', 'stat', '-c', '%u:%g %a', '/workspace/f.txt'], { env })).toEqual({ code: 0, stdout: '65532:65532 644\n', stderr: '' });
    const out = await both(['cp', '--json', 'dev:f.txt', join(host, 'back.txt')]);
    expect(JSON.parse(out.stdout)).toEqual({ format_version: '1.0', direction: 'out', source: 'dev:f.txt', destination: join(host, 'back.txt'), files: 1, bytes: 7 });
    expect(readFileSync(join(host, 'back.txt'), 'utf8')).toBe('podman\n');
    expect((await p.run(['exec', 'dev', 'ln', '-s', '/etc', '/workspace/out'], { env })).code).toBe(0);
    const refusal = 'goes through the symlink /workspace/out that points to /etc, outside /workspace; cp reaches only /workspace inside a sandbox\n';
    expect(await both(['cp', 'dev:out/passwd', join(host, 'passwd')])).toEqual({ code: 1, stdout: '', stderr: `error: refused: dev:out/passwd ${refusal}` });
    expect(await both(['cp', join(host, 'f.txt'), 'dev:out/'])).toEqual({ code: 1, stdout: '', stderr: `error: refused: dev:out/ ${refusal}` });
  }, 60_000);
});
