// `sandboxshift diff`: the plan between the config at two git commits, with no engine. The
// built CLI runs in a temp git repository with DOCKER_HOST pointing at a socket that does not
// exist, so any engine call would fail the command.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020Module from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, testProject, type RunResult, type TestProject } from './harness.js';

const planSchema = JSON.parse(readFileSync(new URL('../../schemas/plan.schema.json', import.meta.url), 'utf8'));
// ajv is CommonJS: under Node's ESM loader its class is the default export's `default`.
const Ajv2020 = (Ajv2020Module as unknown as { default: typeof Ajv2020Module }).default ?? Ajv2020Module;
const validatePlan = new (Ajv2020 as unknown as new (o: object) => import('ajv').default)({ allErrors: true, strict: false }).compile(planSchema);

const NO_ENGINE = { DOCKER_HOST: 'unix:///nonexistent.sock', SANDBOXSHIFT_TEST_KEY: 'sk-live-do-not-print-1234' };

const V1 = `version: 1
project: e2e-diff
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  coder:
    image: busybox
    env: { ROLE: coder }
  reviewer:
    image: busybox
    egress: { allow: [pypi.org] }
  old:
    image: busybox
`;

const V2 = `version: 1
project: e2e-diff
images:
  busybox: { ref: sandboxshift/busybox:test }
environments:
  coder:
    image: busybox
    env: { ROLE: coder, DEBUG: "1" }
    secrets:
      api_key: { fromEnv: SANDBOXSHIFT_TEST_KEY }
  reviewer:
    image: busybox
    egress: { allow: [pypi.org, evil.example] }
  fresh:
    image: busybox
`;

const BROKEN = `version: 1
project: e2e-diff
environments:
  coder:
    runtime: kata
`;

let repo: string;

function git(...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=e2e@example.invalid', '-c', 'user.name=e2e', '-c', 'commit.gpgsign=false', ...args], { cwd: repo, encoding: 'utf8' });
}

function commit(file: string, text: string, message: string): void {
  mkdirSync(join(repo, file, '..'), { recursive: true });
  writeFileSync(join(repo, file), text);
  git('add', '-A');
  git('commit', '-q', '-m', message);
}

const diff = (...args: string[]): Promise<RunResult> => runCli(['diff', ...args], repo, { env: NO_ENGINE });

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'ss-diff-'));
  git('init', '-q', '-b', 'main');
  commit('README.md', '# no config yet\n', 'start');
  git('tag', 'before-config');
  commit('sandboxshift.yaml', V1, 'v1');
  git('checkout', '-q', '-b', 'broken');
  commit('sandboxshift.yaml', BROKEN, 'broken');
  git('checkout', '-q', 'main');
  commit('sandboxshift.yaml', V2, 'v2: coder changed, reviewer widened, old removed, fresh added');
});

afterAll(() => {
  rmSync(repo, { recursive: true, force: true });
});

describe('sandboxshift diff', () => {
  it('really has no engine: plan in the same place fails', async () => {
    const r = await runCli(['plan'], repo, { env: NO_ENGINE });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot reach the Docker engine at DOCKER_HOST=unix:///nonexistent.sock');
  });

  it('prints the text plan of the change between two commits', async () => {
    const r = await diff('--from', 'HEAD~1');
    expect(r.stderr).toMatch(/^Changes from HEAD~1 \([0-9a-f]{7}\) to the working tree \(on [0-9a-f]{7}\), planned without an engine\.\n/);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`SandboxShift plan for project "e2e-diff"

Symbols: + create, ~ update in place, > start, -/+ replace, - destroy

-/+ environment.coder must be replaced
      ! security: secret added: api_key
      because:   env.DEBUG added
                 secret api_key added
      data:      new container; /workspace kept

  ~ environment.reviewer will be updated in place
      ! security: egress widened: evil.example
      because:   egress WIDENED: +evil.example (policy reloaded in place)
      data:      none
      enforced:  internal network (no route out), no host address on it (bridge option inhibit_ipv4), only way out the proxy at 10.213.244.194:3128

  + environment.fresh will be created
      image:     sandboxshift/busybox:test
      runtime:   runc, user 65532:65532, network none
      resources: 1 cpu, 512 MiB, 256 pids
      egress:    none (no network)
      because:   new environment
      data:      none
      workspace: new volume ss.e2e-diff.fresh.workspace

  - environment.old will be destroyed
      image:     sandboxshift/busybox:test
      runtime:   runc, user 65532:65532, network none
      resources: 1 cpu, 512 MiB, 256 pids
      because:   environment removed from config; /workspace volume kept
      data:      container removed; /workspace volume kept

Plan: 2 to add, 1 to change, 2 to destroy.

warning: workspace ss.e2e-diff.old.workspace belongs to no environment in the config: 'old' was removed or renamed (its container is removed by this plan); the volume is kept
  hint: if 'old' was renamed to 'fresh', add moved: [{ from: old, to: fresh }] so its files follow; otherwise delete it with sandboxshift destroy --purge-volumes --target old
`);
  });

  it('needs no secret values: an unset one is compared by name', async () => {
    const r = await runCli(['diff', '--from', 'HEAD~1', '--detailed-exitcode'], repo, { env: { DOCKER_HOST: NO_ENGINE.DOCKER_HOST } });
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('secret api_key added');
  });

  it('exits 2 with --detailed-exitcode when there are changes, 0 when there are none', async () => {
    expect((await diff('--from', 'HEAD~1', '--detailed-exitcode')).code).toBe(2);
    const same = await diff('--from', 'HEAD', '--detailed-exitcode');
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('No changes. 3 environments match the configuration.');
  });

  it('prints the JSON plan with the same actions, and no secret value', async () => {
    const r = await diff('--from', 'HEAD~1', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const plan = JSON.parse(r.stdout);
    expect(validatePlan(plan), JSON.stringify(validatePlan.errors)).toBe(true);
    expect(plan).toMatchObject({ format_version: '1.0', project: 'e2e-diff', engine_version: 'none', summary: { build: 0, add: 2, change: 1, destroy: 2 } });
    const kinds = Object.fromEntries(plan.resource_changes.map((c: { address: string; kind: string }) => [c.address, c.kind]));
    expect(kinds).toEqual({ 'environment.coder': 'replace', 'environment.reviewer': 'update', 'environment.fresh': 'create', 'environment.old': 'delete' });
    const reviewer = plan.resource_changes.find((c: { address: string }) => c.address === 'environment.reviewer');
    expect(reviewer.steps).toEqual(['reload-egress-policy']);
    expect(reviewer.security).toEqual(['egress widened: evil.example']);
    expect(r.stdout).not.toContain(NO_ENGINE.SANDBOXSHIFT_TEST_KEY);
    // --json is the same as --format json.
    const alias = await diff('--from', 'HEAD~1', '--json');
    expect(alias.stdout).toBe(r.stdout);
  });

  it('prints a Markdown comment body: security first, a table, a section per environment', async () => {
    const r = await diff('--from', 'HEAD~1', '--format', 'markdown', '--detailed-exitcode');
    expect(r.code).toBe(2);
    const md = r.stdout;
    expect(md.split('\n').slice(0, 5)).toEqual([
      '### SandboxShift plan for `e2e-diff`',
      '',
      expect.stringMatching(/^Changes from HEAD\\~1 \([0-9a-f]{7}\) to the working tree \(on [0-9a-f]{7}\), planned without an engine\.$/),
      '',
      '**Plan:** 2 to add, 1 to change, 2 to destroy',
    ]);
    expect(md).toContain(
      '> [!WARNING]\n> **Security-relevant changes.** Review these first.\n> - `environment.coder`: secret added: api\\_key\n> - `environment.reviewer`: egress widened: evil.example\n',
    );
    expect(md).toContain('| `environment.old` | destroy | container removed; /workspace volume kept | environment removed from config; /workspace volume kept |');
    expect(md.match(/<details/g)).toHaveLength(4);
    expect(md).toContain('+   DEBUG: "1"\n    ROLE: "coder"\n+ secrets: [api_key]  # names only, values hidden\n');
    expect(md).not.toContain(NO_ENGINE.SANDBOXSHIFT_TEST_KEY);
    expect(md.length).toBeLessThanOrEqual(65_000);
  });

  it('compares two commits with --to, ignoring the working tree', async () => {
    writeFileSync(join(repo, 'sandboxshift.yaml'), V2.replace('fresh:', 'uncommitted:'));
    try {
      const committed = await diff('--from', 'HEAD~1', '--to', 'HEAD', '--format', 'json');
      expect(committed.code).toBe(0);
      expect(committed.stdout).not.toContain('uncommitted');
      expect(committed.stdout).toContain('environment.fresh');
      const working = await diff('--from', 'HEAD~1', '--format', 'json');
      expect(working.stdout).toContain('environment.uncommitted');
      // Backwards: from v2 to v1 undoes it all, and narrowing is not flagged.
      const back = JSON.parse((await diff('--from', 'HEAD', '--to', 'HEAD~1', '--format', 'json')).stdout);
      const reviewer = back.resource_changes.find((c: { address: string }) => c.address === 'environment.reviewer');
      expect(reviewer.reasons.map((x: { message: string }) => x.message)).toEqual(['egress narrowed: -evil.example (policy reloaded in place)']);
      expect(reviewer.security).toEqual([]);
    } finally {
      git('checkout', '-q', '--', 'sandboxshift.yaml');
    }
  });

  it('reads a config in a subfolder at the same path in each commit', async () => {
    commit('agents/sandboxshift.yaml', V1, 'sub v1');
    commit('agents/sandboxshift.yaml', V1.replace('ROLE: coder', 'ROLE: lead'), 'sub v2');
    try {
      const r = await runCli(['diff', '--from', 'HEAD~1', '-c', 'sandboxshift.yaml'], join(repo, 'agents'), { env: NO_ENGINE });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('-/+ environment.coder must be replaced\n      because:   env.ROLE changed\n');
      expect(r.stdout).toContain('Plan: 1 to add, 0 to change, 1 to destroy.');
    } finally {
      git('reset', '-q', '--hard', 'HEAD~2');
    }
  });

  it('reports a bad ref, a missing file and an invalid config at a ref as diagnostics', async () => {
    const bad = await diff('--from', 'no-such-branch');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain("error: unknown git revision 'no-such-branch'");
    expect(bad.stderr).toContain('hint: check the name');

    const missing = await diff('--from', 'before-config');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('before-config:sandboxshift.yaml: error: sandboxshift.yaml does not exist at before-config\n  hint: diff needs the config at both commits');

    const invalid = await diff('--from', 'broken');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("broken:sandboxshift.yaml:5:14: error: 'runtime' must be one of: runc, runsc (at environments.coder.runtime)");

    const noRef = await diff();
    expect(noRef.code).toBe(1);
    expect(noRef.stderr).toContain('error: diff: --from REF is required');

    const format = await diff('--from', 'HEAD~1', '--format', 'yaml');
    expect(format.code).toBe(1);
    expect(format.stderr).toBe("error: diff: unknown --format 'yaml'\n  hint: use --format text, --format json, --format markdown\n");
  });

  it('refuses outside a git repository, with advice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-diff-nogit-'));
    try {
      writeFileSync(join(dir, 'sandboxshift.yaml'), V1);
      const r = await runCli(['diff', '--from', 'HEAD~1'], dir, { env: { ...NO_ENGINE, GIT_CEILING_DIRECTORIES: tmpdir() } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('is not inside a git repository');
      expect(r.stderr).toContain('hint: diff compares the config at two commits');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sandboxshift plan --format', () => {
  it('refuses an unknown format before touching the engine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-format-'));
    try {
      const unknown = await runCli(['plan', '--format', 'html'], dir, { env: NO_ENGINE });
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toBe("error: plan: unknown --format 'html'\n  hint: use --format text, --format json, --format markdown\n");
      const both = await runCli(['plan', '--json', '--format', 'text'], dir, { env: NO_ENGINE });
      expect(both.code).toBe(1);
      expect(both.stderr).toContain('error: plan: --json and --format text ask for different formats');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints the live plan as Markdown, and as JSON with --json or --format json', async () => {
    const project = testProject('format', V1.replace('project: e2e-diff', 'project: {{project}}'));
    try {
      const md = await project.run(['plan', '--format', 'markdown', '--detailed-exitcode']);
      expect(md.stderr).toBe('');
      expect(md.code).toBe(2);
      // Three environments and the project's egress network; the proxy image is built only if the engine lacks it.
      expect(md.stdout.split('\n').slice(0, 3)).toEqual([
        `### SandboxShift plan for \`${project.name}\``,
        '',
        expect.stringMatching(/^\*\*Plan:\*\* (1 to build, )?4 to add, 0 to change, 0 to destroy$/),
      ]);
      expect(md.stdout).toContain(`| \`environment.coder\` | create | none | new environment |`);
      const json = await project.run(['plan', '--format', 'json']);
      const alias = await project.run(['plan', '--json']);
      expect(JSON.parse(json.stdout).summary).toMatchObject({ add: 4, change: 0, destroy: 0 });
      expect(JSON.parse(alias.stdout).resource_changes.map((c: { address: string }) => c.address)).toEqual(JSON.parse(json.stdout).resource_changes.map((c: { address: string }) => c.address));
    } finally {
      await project.cleanup();
    }
  });
});

// diff simulates the labels apply leaves behind (plan/observed-from-desired.ts). The proof: apply
// v1 for real, then the engine plan of v2 and `diff --from v1` to v2 must list the same changes.
describe('diff agrees with the engine', () => {
  const SHARED = `images:
  busybox: { ref: sandboxshift/busybox:test }
defaults:
  image: busybox
  resources: { cpus: 0.25, memory: 32m, pids: 32 }
`;
  const APPLIED = `version: 1
project: {{project}}
${SHARED}environments:
  coder: { env: { ROLE: coder } }
  grower: {}
  reviewer: { egress: { allow: [pypi.org] } }
  steady: { protect: true }
  old: {}
`;
  const NEXT = `version: 1
project: {{project}}
${SHARED}environments:
  coder:
    env: { ROLE: coder, DEBUG: "1" }
    secrets:
      api_key: { fromEnv: SANDBOXSHIFT_TEST_KEY }
  grower: { resources: { cpus: 0.5, memory: 64m, pids: 64 } }
  reviewer: { egress: { allow: [pypi.org, example.org] } }
  steady: { protect: true }
  fresh: {}
`;
  let p: TestProject;
  const inRepo = (...args: string[]) => execFileSync('git', ['-c', 'user.email=e2e@example.invalid', '-c', 'user.name=e2e', '-c', 'commit.gpgsign=false', ...args], { cwd: p.dir, encoding: 'utf8' });

  beforeAll(() => {
    p = testProject('diffreal', APPLIED);
    inRepo('init', '-q', '-b', 'main');
    inRepo('add', 'sandboxshift.yaml');
    inRepo('commit', '-q', '-m', 'v1');
    inRepo('tag', 'v1');
  });
  afterAll(async () => p.cleanup());

  /** What apply would do, without ids, hashes and subnets that differ between engines. */
  const essence = (stdout: string) =>
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- plan JSON read back and edited by hand
    (JSON.parse(stdout) as { resource_changes: Array<Record<string, any>> }).resource_changes
      .map((c) => ({ address: c.address, kind: c.kind, actions: c.change.actions, reasons: c.reasons, steps: c.steps, data_effect: c.data_effect, security: c.security }))
      .sort((a, b) => a.address.localeCompare(b.address));

  it('plan of v2 against the engine v1 left equals diff --from v1', async () => {
    const applied = await p.run(['apply', '--auto-approve']);
    expect(applied.code, applied.stderr).toBe(0);
    p.write(NEXT);
    inRepo('commit', '-q', '-am', 'v2');
    const env = { SANDBOXSHIFT_TEST_KEY: 'sk-test-value' };
    const live = await p.run(['plan', '--format', 'json'], { env });
    expect(live.code, live.stderr).toBe(0);
    const simulated = await p.run(['diff', '--from', 'v1', '--format', 'json'], { env: { ...env, DOCKER_HOST: 'unix:///nonexistent.sock' } });
    expect(simulated.code, simulated.stderr).toBe(0);
    const fromEngine = essence(live.stdout);
    // Not vacuous: every kind of change the two configs differ by is in it.
    expect(fromEngine.map((c) => `${c.address} ${c.kind}`)).toEqual(
      expect.arrayContaining(['environment.coder replace', 'environment.grower update', 'environment.old delete', 'environment.fresh create', 'environment.steady no-op']),
    );
    expect(fromEngine.find((c) => c.address === 'environment.reviewer')?.reasons.map((r: { code: string }) => r.code)).toContain('egress_widened');
    expect(essence(simulated.stdout)).toEqual(fromEngine);
  });
});
