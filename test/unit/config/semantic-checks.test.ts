import { describe, expect, it } from 'vitest';
import { validateConfigText } from '../../../src/config/index.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';

/** Diagnostics for a config with an `images: {python, tools}` section and the given environment lines. */
function check(...environmentLines: string[]): string[] {
  const text = [
    'version: 1', // 1
    'project: demo', // 2
    'images:', // 3
    '  python: {ref: python:3.12}', // 4
    '  tools: {build: {context: .}}', // 5
    'environments:', // 6
    ...environmentLines, // from line 7
    '',
  ].join('\n');
  return validateConfigText(text, 'sandboxshift.yaml').diagnostics.map(formatDiagnostic);
}

describe('image references', () => {
  it('an undefined image suggests the closest name', () => {
    expect(check('  a:', '    image: pyhton')).toEqual(["sandboxshift.yaml:8:12: error: image 'pyhton' is not defined under images (at environments.a.image)\n  hint: did you mean 'python'?"]);
  });

  it('an image reference written where a name belongs', () => {
    expect(check('  a: {image: "node:20"}')).toEqual([
      "sandboxshift.yaml:7:14: error: image 'node:20' is not defined under images (at environments.a.image)\n  hint: image: takes a name from images:, not a reference; add e.g. images: { my-image: { ref: node:20 } } and write image: my-image",
    ]);
  });

  it('a name with nothing close lists the defined images', () => {
    expect(check('  a: {image: golang}')).toEqual([
      "sandboxshift.yaml:7:14: error: image 'golang' is not defined under images (at environments.a.image)\n  hint: defined images: python, tools; define 'golang' under images:, or write image: auto",
    ]);
  });

  it('auto and defined names are accepted', () => {
    expect(check('  a: {image: auto}', '  b: {image: tools}')).toEqual([]);
  });
});

describe('units', () => {
  it('a memory size that is not a size', () => {
    expect(check('  a:', '    resources: {memory: 2 gigs}')).toEqual([
      "sandboxshift.yaml:8:25: error: 'memory' is not a size: '2 gigs' (at environments.a.resources.memory)\n  hint: write a size like 512m, 1g, 256Mi or 1GiB, or a number of bytes",
    ]);
  });

  it('memory below what Docker accepts, as text or as bytes', () => {
    expect(check('  a: {resources: {memory: 4m}}', '  b: {resources: {memory: 1024}}')).toEqual([
      "sandboxshift.yaml:7:27: error: 'memory' is 4MiB, below Docker's minimum of 6MiB (at environments.a.resources.memory)\n  hint: use at least 6m; 512m suits most environments",
      "sandboxshift.yaml:8:27: error: 'memory' is 1KiB, below Docker's minimum of 6MiB (at environments.b.resources.memory)\n  hint: use at least 6m; 512m suits most environments",
    ]);
  });

  it('limits beyond what any engine can give, each at its value', () => {
    expect(
      check(
        '  a: {resources: {memory: 1e100}}', // 7
        "  b: {resources: {memory: '1025t'}}", // 8
        '  c: {resources: {cpus: 1025}}', // 9
        '  d: {resources: {cpus: 0.001}}', // 10
        '  e: {resources: {pids: 1e100}}', // 11
        '  f: {resources: {pids: 4194305}}', // 12
      ),
    ).toEqual([
      "sandboxshift.yaml:7:27: error: 'memory' is 1e+100, above the most a limit can be (1024TiB) (at environments.a.resources.memory)\n  hint: write what the environment needs, e.g. 2g; plan also checks it against the engine's memory",
      "sandboxshift.yaml:8:27: error: 'memory' is '1025t', above the most a limit can be (1024TiB) (at environments.b.resources.memory)\n  hint: write what the environment needs, e.g. 2g; plan also checks it against the engine's memory",
      "sandboxshift.yaml:9:25: error: 'cpus' is 1025, above the most a limit can be (1024) (at environments.c.resources.cpus)\n  hint: write what the environment needs, e.g. 2; plan also checks it against the engine's CPUs",
      "sandboxshift.yaml:10:25: error: 'cpus' is 0.001, below Docker's minimum of 0.01 (at environments.d.resources.cpus)\n  hint: use at least 0.01; 0.5 or 1 suits most environments",
      "sandboxshift.yaml:11:25: error: 'pids' is 1e+100, above the most Linux allows (4194304) (at environments.e.resources.pids)\n  hint: write what the environment needs; 256 suits most environments",
      "sandboxshift.yaml:12:25: error: 'pids' is 4194305, above the most Linux allows (4194304) (at environments.f.resources.pids)\n  hint: write what the environment needs; 256 suits most environments",
    ]);
  });

  it('limits at the edges are accepted, and zero, negative and NaN ones refused once', () => {
    expect(check('  a: {resources: {memory: 1024t, cpus: 1024, pids: 4194304}}', '  b: {resources: {memory: 6m, cpus: 0.01, pids: 16}}')).toEqual([]);
    expect(check('  a: {resources: {cpus: 0}}', '  b: {resources: {cpus: -2}}', '  c: {resources: {cpus: .nan}}', '  d: {resources: {pids: -1}}', '  e: {resources: {memory: -1}}')).toEqual([
      "sandboxshift.yaml:7:25: error: 'cpus' must be more than 0, not 0 (at environments.a.resources.cpus)",
      "sandboxshift.yaml:8:25: error: 'cpus' must be more than 0, not -2 (at environments.b.resources.cpus)",
      'sandboxshift.yaml:9:25: error: expected a number, got NaN (at environments.c.resources.cpus)',
      "sandboxshift.yaml:10:25: error: 'pids' must be at least 16, not -1 (at environments.d.resources.pids)",
      "sandboxshift.yaml:11:27: error: 'memory' must be at least 0, not -1 (at environments.e.resources.memory)",
    ]);
  });

  it('a duration that is not a duration, and a zero one', () => {
    expect(check('  a: {idle: {stopAfter: 10 minutes}}', '  b: {idle: {stopAfter: 0m}}')).toEqual([
      "sandboxshift.yaml:7:25: error: 'stopAfter' is not a duration: '10 minutes' (at environments.a.idle.stopAfter)\n  hint: write a duration like 30s, 15m, 2h or 1h30m, or never",
      "sandboxshift.yaml:8:25: error: 'stopAfter' must be longer than 0s (at environments.b.idle.stopAfter)\n  hint: write never to keep the environment running",
    ]);
  });

  it('ids Linux cannot run as: (uid_t)-1 and beyond', () => {
    const hint = '4294967295 is Linux\'s "no id" (the runtime cannot start the container with it) and larger ones do not fit; pick an id such as 43210';
    expect(check('  a: {user: "4294967295"}', '  b: {user: "65534:4294967295"}', '  c: {user: 99999999999999999999}', '  d: {user: "4294967294:2147483648"}')).toEqual([
      `sandboxshift.yaml:7:13: error: 'user' ids must be at most 4294967294: "4294967295" (at environments.a.user)\n  hint: ${hint}`,
      `sandboxshift.yaml:8:13: error: 'user' ids must be at most 4294967294: "65534:4294967295" (at environments.b.user)\n  hint: ${hint}`,
      `sandboxshift.yaml:9:13: error: 'user' ids must be at most 4294967294: 100000000000000000000 (at environments.c.user)\n  hint: ${hint}`,
    ]);
  });

  it('a user name instead of numeric ids', () => {
    expect(check('  a: {user: node}')).toEqual([
      "sandboxshift.yaml:7:13: error: 'user' must be a numeric UID or UID:GID, not a name: 'node' (at environments.a.user)\n  hint: numeric ids are needed so secret files can be owned by the user; find them with `id -u NAME` and `id -g NAME` inside the image",
    ]);
  });
});

describe('egress entries', () => {
  it('accepts domains, wildcards, host:port, addresses and CIDRs', () => {
    const allow = '[pypi.org, "*.github.com", "db.internal:5432", "cache:6379", 10.0.0.0/8, 192.168.1.10, "[::1]:8080", "fd00::/8"]';
    expect(check(`  a: {egress: {allow: ${allow}}}`)).toEqual([]);
  });

  it('a URL is refused with the host it contains', () => {
    expect(check('  a:', '    egress:', '      allow: ["https://pypi.org/simple", bad_host, 10.0.0.0/33]')).toEqual([
      "sandboxshift.yaml:9:15: error: egress entry 'https://pypi.org/simple' is not a domain, host:port or CIDR (at environments.a.egress.allow[0])\n  hint: write the host only, without scheme or path: 'pypi.org'",
      "sandboxshift.yaml:9:42: error: egress entry 'bad_host' is not a domain, host:port or CIDR (at environments.a.egress.allow[1])\n  hint: write a domain (pypi.org, *.github.com), a host:port (db.internal:5432) or a CIDR (10.0.0.0/8)",
      "sandboxshift.yaml:9:52: error: egress entry '10.0.0.0/33' is not a domain, host:port or CIDR (at environments.a.egress.allow[2])\n  hint: write a domain (pypi.org, *.github.com), a host:port (db.internal:5432) or a CIDR (10.0.0.0/8)",
    ]);
  });
});

describe('other checks', () => {
  it('workspace from a folder and from git at once', () => {
    expect(check('  a:', '    workspace:', '      from: ./src', '      git: {url: https://example.com/r.git}')).toEqual([
      "sandboxshift.yaml:10:7: error: workspace can be seeded from a folder ('from') or from 'git', not both (at environments.a.workspace.git)\n  hint: remove environments.a.workspace.from or environments.a.workspace.git",
    ]);
  });

  it('environment names that differ only in case', () => {
    expect(check('  web: {}', '  Web: {}')).toEqual([
      "sandboxshift.yaml:8:3: error: environment name 'Web' must be lowercase letters, digits and '-', start with a letter or digit, and be at most 40 characters (at environments.Web)\n  hint: try 'web' (names become parts of container, network and volume names)",
      "sandboxshift.yaml:8:3: error: environment 'Web' differs from 'web' only in case (at environments.Web)\n  hint: Docker names are case-insensitive in places, so the two would collide: rename one",
    ]);
  });

  it('a relative mount target', () => {
    expect(check('  a:', '    mounts: [{source: /data, target: data}]', '    allowDangerous: [host-mounts]')).toEqual([
      "sandboxshift.yaml:8:38: error: mount target 'data' must be an absolute path inside the container (at environments.a.mounts[0].target)\n  hint: e.g. /data",
    ]);
  });

  it('no environments is a warning, and the config still loads', () => {
    const result = validateConfigText('version: 1\nproject: demo\nenvironments: {}\n', 'sandboxshift.yaml');
    expect(result.diagnostics.map(formatDiagnostic)).toEqual([
      'sandboxshift.yaml:3:1: warning: no environments are defined: plan and apply will have nothing to do (at environments)\n  hint: add one under environments:, e.g. `agent: { image: auto }`',
    ]);
    expect(result.config?.project).toBe('demo');
  });

  it('every problem is reported, in file order', () => {
    const lines = check(
      '  b:', // 7
      '    image: nope', // 8
      '    runtime: gvisor', // 9
      '  a:', // 10
      '    resources: {memory: 1m, pids: 2}', // 11
    );
    expect(lines.map((l) => l.split(': error: ')[0])).toEqual(['sandboxshift.yaml:8:12', 'sandboxshift.yaml:9:14', 'sandboxshift.yaml:11:25', 'sandboxshift.yaml:11:35']);
  });
});
