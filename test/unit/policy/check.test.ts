import { describe, expect, it } from 'vitest';
import { validateConfigText } from '../../../src/config/index.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';
import { resolveDesired } from '../../../src/model/resolve.js';
import { checkPolicy, type EngineUsage, type PolicyEnvironment } from '../../../src/policy/check.js';
import { policyDiagnostics } from '../../../src/policy/diagnostics.js';
import { hostsOverlap } from '../../../src/policy/hosts.js';
import { imageRepository, repositoryMatcher } from '../../../src/policy/images.js';
import { parsePolicyText } from '../../../src/policy/parse.js';
import { policySubject } from '../../../src/policy/subject.js';
import type { Policy } from '../../../src/policy/types.js';

const NO_ONE: EngineUsage = { projects: 0, environments: 0, cpus: 0, memoryBytes: 0 };

function env(over: Partial<PolicyEnvironment> = {}): PolicyEnvironment {
  return {
    name: 'a',
    imageName: 'base',
    autoImage: false,
    imageRef: 'team/base:1',
    imageBuilt: false,
    runtime: 'runsc',
    cpus: 1,
    memoryBytes: 256 * 1024 * 1024,
    pids: 64,
    egressAllow: null,
    allowDangerous: [],
    stopAfterSeconds: 3600,
    ...over,
  };
}

function policy(yaml: string): Policy {
  const parsed = parsePolicyText(`version: 1\n${yaml}`, 'policy.yaml');
  if (!parsed.policy) throw new Error(parsed.diagnostics.map(formatDiagnostic).join('\n'));
  return parsed.policy;
}

/** Config text → positioned policy diagnostics, as plan shows them. */
function diagnose(policyYaml: string, config: string, others: EngineUsage | null = NO_ONE): string[] {
  const loaded = validateConfigText(config, 'sandboxshift.yaml');
  if (!loaded.config) throw new Error(loaded.diagnostics.map(formatDiagnostic).join('\n'));
  const { desired } = resolveDesired(loaded.config, { secretsOptional: true });
  const violations = checkPolicy(policy(policyYaml), policySubject(loaded.config, desired), others);
  return policyDiagnostics(violations, config, 'sandboxshift.yaml').map((d) => formatDiagnostic(d).split('\n')[0]!);
}

const CONFIG = `version: 1
project: demo
images:
  base: { ref: "debian:bookworm-slim" }
  pinned: { ref: "team/tool@sha256:${'a'.repeat(64)}" }
defaults:
  image: base
  resources: { cpus: 1, memory: 256m, pids: 64 }
  idle: { stopAfter: 2h }
environments:
  a:
    runtime: runsc
  b:
    image: pinned
    runtime: runc
    resources: { cpus: 3, memory: 2g, pids: 4096 }
    egress: { allow: [pypi.org, "*.corp.example", 10.0.0.0/8] }
    idle: { stopAfter: never }
    mounts: [{ source: /srv/data, target: /data }]
    allowDangerous: [host-mounts]
`;

describe('checkPolicy on a config (positions as validate shows them)', () => {
  it('reports every rule kind at the line that sets it', () => {
    const out = diagnose(
      `images: { allow: ["team/**"], digestPinnedOnly: true }
runtime: runsc
environment: { cpus: 2, memory: 1g, pids: 1024 }
project: { environments: 1, cpus: 3, memory: 2g }
egress: { deny: ["secret.corp.example", "10.1.2.3"], maxEntries: 2 }
allowDangerous: []
idle: { maxStopAfter: 1h }`,
      CONFIG,
    );
    expect(out).toEqual([
      "sandboxshift.yaml:4:16: error: policy rule 'images.allow': image 'base' (repository debian) is not in the engine's allowed images (team/**) (at images.base.ref)",
      "sandboxshift.yaml:4:16: error: policy rule 'images.digestPinnedOnly': image 'base' (debian:bookworm-slim) is not pinned by digest (at images.base.ref)",
      "sandboxshift.yaml:9:22: error: policy rule 'idle.maxStopAfter': environment 'a' stops after 2h idle, longer than the 1h the engine's policy allows (at defaults.idle.stopAfter)",
      "sandboxshift.yaml:15:14: error: policy rule 'runtime': environment 'b' runs under runc; the engine's policy requires runsc (at environments.b.runtime)",
      "sandboxshift.yaml:16:24: error: policy rule 'environment.cpus': environment 'b' asks for 3 CPUs, more than the 2 an environment may have (at environments.b.resources.cpus)",
      "sandboxshift.yaml:16:35: error: policy rule 'environment.memory': environment 'b' asks for 2GiB of memory, more than the 1GiB an environment may have (at environments.b.resources.memory)",
      "sandboxshift.yaml:16:45: error: policy rule 'environment.pids': environment 'b' asks for 4096 processes, more than the 1024 an environment may have (at environments.b.resources.pids)",
      "sandboxshift.yaml:17:15: error: policy rule 'egress.maxEntries': environment 'b' allows 3 egress entries, more than the 2 an allow list may have (at environments.b.egress.allow)",
      "sandboxshift.yaml:17:33: error: policy rule 'egress.deny': environment 'b' allows egress to '*.corp.example', which reaches 'secret.corp.example', a host the engine's policy denies to every allow list (at environments.b.egress.allow[1])",
      "sandboxshift.yaml:17:51: error: policy rule 'egress.deny': environment 'b' allows egress to '10.0.0.0/8', which reaches '10.1.2.3', a host the engine's policy denies to every allow list (at environments.b.egress.allow[2])",
      "sandboxshift.yaml:20:22: error: policy rule 'allowDangerous': environment 'b' uses allowDangerous value 'host-mounts', which the engine's policy does not permit (permitted: none) (at environments.b.allowDangerous[0])",
      "sandboxshift.yaml:18:24: error: policy rule 'idle.required': environment 'b' never stops when idle; the engine's policy requires an idle.stopAfter (at environments.b.idle.stopAfter)",
      "sandboxshift.yaml:10:1: error: policy rule 'project.environments': project 'demo' would have 2 environments, more than the 1 allowed (at environments)",
      "sandboxshift.yaml:10:1: error: policy rule 'project.cpus': project 'demo' would have 4 CPUs, more than the 3 allowed (at environments)",
      "sandboxshift.yaml:10:1: error: policy rule 'project.memory': project 'demo' would have 2.3GiB of memory, more than the 2GiB allowed (at environments)",
    ]);
  });

  it('is silent for a config within every rule', () => {
    expect(
      diagnose(
        `images: { allow: ["debian", "team/*"] }
environment: { cpus: 4, memory: 4g, pids: 8192 }
allowDangerous: [host-mounts]
egress: { deny: ["*.internal"] }`,
        CONFIG,
      ),
    ).toEqual([]);
  });

  it('points at the environment when the setting comes from the built-in defaults', () => {
    const config = `version: 1\nproject: demo\nimages:\n  base: { ref: "team/base:1" }\nenvironments:\n  a: { image: base }\n`;
    expect(diagnose('runtime: runsc\nidle: { required: true }', config)).toEqual([
      "sandboxshift.yaml:6:3: error: policy rule 'runtime': environment 'a' runs under runc; the engine's policy requires runsc (at environments.a)",
      "sandboxshift.yaml:6:3: error: policy rule 'idle.required': environment 'a' never stops when idle; the engine's policy requires an idle.stopAfter (at environments.a)",
    ]);
  });
});

describe('engine-wide ceilings', () => {
  const p = policy('engine: { environments: 3, cpus: 2, memory: 1g }');
  it('counts the other projects with this one and names the current use', () => {
    const out = checkPolicy(p, { project: 'two', environments: [env({ cpus: 1.5, name: 'x' })] }, { projects: 1, environments: 1, cpus: 1, memoryBytes: 128 * 1024 * 1024 });
    expect(out.map((v) => [v.rule, v.message])).toEqual([
      ['engine.cpus', "the engine would have together 2.5 CPUs, more than the 2 allowed (in use now by 1 other project: 1; project 'two' wants 1.5)"],
    ]);
  });
  it('an engine already over a ceiling refuses only a project that would use more of it than now', () => {
    const over = { projects: 1, environments: 1, cpus: 3, memoryBytes: 0 };
    const subject = { project: 'two', environments: [env({ cpus: 0.5 })] };
    expect(checkPolicy(p, subject, over, { environments: 2, cpus: 1, memoryBytes: 0 })).toEqual([]);
    expect(checkPolicy(p, subject, over, { environments: 1, cpus: 0.5, memoryBytes: 0 })).toEqual([]);
    expect(checkPolicy(p, subject, over, { environments: 1, cpus: 0.25, memoryBytes: 0 }).map((v) => v.rule)).toEqual(['engine.cpus']);
  });
  it('allows exactly the ceiling', () => {
    expect(checkPolicy(p, { project: 'two', environments: [env({ cpus: 1 })] }, { projects: 2, environments: 2, cpus: 1, memoryBytes: 0 })).toEqual([]);
  });
  it('is not checked without usage (no engine-wide read)', () => {
    expect(checkPolicy(p, { project: 'two', environments: [env({ cpus: 100 })] }, null)).toEqual([]);
  });
});

describe('images and hosts', () => {
  it('takes the repository without tag or digest, keeping a registry port', () => {
    expect(imageRepository('localhost:5000/team/app:1.2@sha256:abc')).toBe('localhost:5000/team/app');
    expect(imageRepository('debian')).toBe('debian');
    expect(imageRepository('team/app@sha256:abc')).toBe('team/app');
  });
  it('matches * within a segment and ** across', () => {
    const m = repositoryMatcher(['team/*', 'registry.example.com/**', 'debian']);
    expect(['team/a', 'team/a/b', 'registry.example.com/x/y', 'registry.example.com', 'debian', 'debianx', 'teamx/a'].map(m)).toEqual([true, false, true, false, true, false, false]);
  });
  it('a built image is pinned by its content tag; an image: auto violation points at the environment', () => {
    const p = policy('images: { allow: ["sandboxshift/builtin-*"], digestPinnedOnly: true }');
    expect(checkPolicy(p, { project: 'p', environments: [env({ imageRef: 'sandboxshift/builtin-node:abc', imageBuilt: true, autoImage: true, imageName: 'node' })] }, null)).toEqual([]);
    const out = checkPolicy(p, { project: 'p', environments: [env({ imageRef: 'sandboxshift/p-x:abc', imageBuilt: true, autoImage: true, imageName: 'x' })] }, null);
    expect(out.map((v) => [v.rule, v.at])).toEqual([['images.allow', { env: 'a', setting: ['image'] }]]);
  });
  it('finds every allow entry that could reach a denied host', () => {
    const cases: Array<[string, string, boolean]> = [
      ['github.com', 'github.com', true],
      ['GitHub.com.', 'github.com', true],
      ['api.github.com', '*.github.com', true],
      ['github.com', '*.github.com', false],
      ['*.github.com', 'api.github.com', true],
      ['*.a.github.com', '*.github.com', true],
      ['*.github.com', '*.a.github.com', true],
      ['*.gitlab.com', '*.github.com', false],
      ['db.internal:5432', 'db.internal', true],
      ['10.0.0.0/8', '10.1.2.3', true],
      ['10.1.2.3:443', '10.0.0.0/8', true],
      ['11.0.0.0/8', '10.0.0.0/8', false],
      ['0.0.0.0/0', '169.254.169.254', true],
      ['[::1]:443', '::1', true],
      ['evilgithub.com', '*.github.com', false],
    ];
    expect(cases.map(([a, d]) => hostsOverlap(a, d))).toEqual(cases.map((c) => c[2]));
  });
});

describe('policy files', () => {
  it('reports schema errors at their line', () => {
    const out = parsePolicyText('version: 1\nruntime: kata\nenvironment:\n  cpu: 2\n', 'p.yaml').diagnostics.map((d) => formatDiagnostic(d).split('\n')[0]);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^p\.yaml:2:10: error: .*runtime/);
    expect(out[1]).toMatch(/^p\.yaml:4:3: error: .*cpu/);
  });
  it('refuses an empty file and one over the size a record holds', () => {
    expect(parsePolicyText('', 'p.yaml').diagnostics.map((d) => d.message)).toEqual(['the policy file is empty']);
    const many = Array.from({ length: 999 }, (_, i) => `"team-${i}-${'x'.repeat(60)}/**"`).join(', ');
    expect(parsePolicyText(`version: 1\nimages: { allow: [${many}] }`, 'p.yaml').diagnostics[0]?.message).toMatch(/^the policy is [0-9]+ bytes as JSON, more than the 65536 an engine record holds$/);
  });
  it('reads only a regular file of sane size: devices, folders and missing files are refused with advice', async () => {
    const { parsePolicyFile } = await import('../../../src/policy/parse.js');
    expect(parsePolicyFile('/dev/zero').diagnostics.map((d) => d.message)).toEqual(["policy file '/dev/zero' is not a regular file"]);
    expect(parsePolicyFile('/tmp').diagnostics.map((d) => d.message)).toEqual(["policy file '/tmp' is a folder"]);
    expect(parsePolicyFile('/nonexistent/p.yaml').diagnostics.map((d) => d.message)).toEqual(["policy file '/nonexistent/p.yaml' does not exist"]);
  });
  it('maxStopAfter implies required', () => {
    expect(policy('idle: { maxStopAfter: 8h }').idle).toEqual({ required: true, maxStopAfterSeconds: 28800 });
  });
});

describe('policy changes', () => {
  it('lists each rule added, removed or changed', async () => {
    const { policyChanges, formatPolicyChange } = await import('../../../src/policy/diff.js');
    const out = policyChanges({ version: 1, runtime: 'runsc', environment: { cpus: 2 }, images: { allow: ['a/*'] } }, { version: 1, environment: { cpus: 4, pids: 64 }, images: { allow: ['a/*'] } });
    expect(out.map(formatPolicyChange)).toEqual(['~ environment.cpus: 2 → 4', '+ environment.pids: 64', '- runtime: "runsc"']);
  });
});
