import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, validateConfigText, type Config } from '../../../src/config/index.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';

const MiB = 1024 * 1024;

describe('a valid config', () => {
  it('loads every key, with defaults merged, units parsed and host paths resolved', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandboxshift-config-'));
    const file = join(dir, 'sandboxshift.yaml');
    copyFileSync(new URL('../../fixtures/config/full.yaml', import.meta.url), file);

    const { config, diagnostics } = loadConfig(file);

    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    const expected: Omit<Config, 'source'> = {
      version: 1,
      project: 'demo',
      moved: [],
      file,
      dir,
      images: {
        python: { name: 'python', ref: 'python:3.12-slim', pull: 'if-not-present' },
        tools: { name: 'tools', build: { context: join(dir, 'images/tools'), dockerfile: 'Dockerfile', args: { VERSION: '2' } } },
      },
      environments: {
        agent: {
          name: 'agent',
          image: 'python',
          env: { LANG: 'C.UTF-8', DEBUG: 'true', WORKERS: '4' },
          secrets: { gh_token: { fromEnv: 'GH_TOKEN' }, 'api.key': { fromFile: join(dir, 'secrets/api.key') } },
          resources: { cpus: 0.5, memoryBytes: 256 * MiB, pids: 256 },
          runtime: 'runsc',
          uid: 1000,
          gid: 1000,
          command: ['sh', '-c', 'python -m http.server'],
          workspace: { git: { url: 'https://github.com/example/repo.git', ref: 'main' } },
          protect: true,
          egress: { mode: 'allow', allow: ['pypi.org', '*.github.com'] },
          idle: { stopAfterSeconds: 5400, action: 'stop', cpuPercent: 5 },
          privileged: false,
          hostNetwork: false,
          mounts: [],
          allowDangerous: [],
          allowContractMismatch: false,
          volumes: {},
          userSet: true,
        },
        builder: {
          name: 'builder',
          image: 'tools',
          env: { LANG: 'C.UTF-8', DEBUG: 'false' },
          secrets: { gh_token: { fromEnv: 'GH_TOKEN' } },
          resources: { cpus: 0.5, memoryBytes: 1024 * MiB, pids: 256 },
          runtime: 'runc',
          uid: 0,
          gid: 0,
          command: ['make', 'all'],
          workspace: { from: join(dir, 'src') },
          protect: false,
          egress: { mode: 'none' },
          idle: { stopAfterSeconds: null, action: 'stop', cpuPercent: 5 },
          privileged: true,
          hostNetwork: true,
          mounts: [
            { source: '/var/run/docker.sock', target: '/var/run/docker.sock', readOnly: false },
            { source: join(dir, 'cache'), target: '/cache', readOnly: true },
          ],
          allowDangerous: ['privileged', 'host-network', 'docker-socket', 'host-mounts', 'root-user'],
          allowContractMismatch: false,
          volumes: {},
          userSet: true,
        },
        plain: {
          name: 'plain',
          image: 'auto',
          env: { LANG: 'C.UTF-8', DEBUG: 'false' },
          secrets: { gh_token: { fromEnv: 'GH_TOKEN' } },
          resources: { cpus: 0.5, memoryBytes: 1024 * MiB, pids: 256 },
          runtime: 'runc',
          uid: 1000,
          gid: 1000,
          workspace: {},
          protect: false,
          egress: { mode: 'allow', allow: ['pypi.org', '*.github.com'] },
          idle: { stopAfterSeconds: 5400, action: 'stop', cpuPercent: 5 },
          privileged: false,
          hostNetwork: false,
          mounts: [],
          allowDangerous: [],
          allowContractMismatch: false,
          volumes: {},
          userSet: true,
        },
      },
    };
    expect(config).toBeDefined();
    const { source, ...rest } = config as Config;
    expect(rest).toStrictEqual(expected);
    expect(Object.keys(rest.environments)).toEqual(['agent', 'builder', 'plain']);
    expect(source).toContain('project: demo');
  });

  it('uses the built-in defaults when neither defaults nor the environment set a key', () => {
    const text = ['version: 1', 'project: p', 'environments:', '  a: {}', ''].join('\n');
    const { config, diagnostics } = validateConfigText(text, '/srv/p/sandboxshift.yaml');

    expect(diagnostics).toEqual([]);
    expect(config?.dir).toBe('/srv/p');
    expect(config?.environments.a).toEqual({
      name: 'a',
      image: 'auto',
      env: {},
      secrets: {},
      resources: { cpus: 1, memoryBytes: 512 * MiB, pids: 256 },
      runtime: 'runc',
      uid: 65532,
      gid: 65532,
      workspace: {},
      protect: false,
      egress: { mode: 'none' },
      idle: { stopAfterSeconds: null, action: 'stop', cpuPercent: 5 },
      privileged: false,
      hostNetwork: false,
      mounts: [],
      allowDangerous: [],
      allowContractMismatch: false,
      volumes: {},
      userSet: false,
    });
  });

  it('lets an environment replace lists from defaults instead of appending to them', () => {
    const text = [
      'version: 1',
      'project: p',
      'defaults:',
      '  egress: {allow: [pypi.org]}',
      '  mounts: [{source: /data, target: /data}]',
      '  allowDangerous: [host-mounts]',
      'environments:',
      '  a:',
      '    egress: {allow: [npmjs.org]}',
      '    mounts: []',
      '    allowDangerous: []',
      '',
    ].join('\n');
    const { config, diagnostics } = validateConfigText(text, '/srv/p/sandboxshift.yaml');

    expect(diagnostics).toEqual([]);
    expect(config?.environments.a?.egress).toEqual({ mode: 'allow', allow: ['npmjs.org'] });
    expect(config?.environments.a?.mounts).toEqual([]);
  });

  it('reads a numeric user as both ids and keeps an explicit group', () => {
    const text = ['version: 1', 'project: p', 'environments:', '  a: {user: 1001}', '  b: {user: "1001:100"}', ''].join('\n');
    const { config } = validateConfigText(text, '/srv/p/sandboxshift.yaml');

    expect([config?.environments.a?.uid, config?.environments.a?.gid]).toEqual([1001, 1001]);
    expect([config?.environments.b?.uid, config?.environments.b?.gid]).toEqual([1001, 100]);
  });

  it('keeps warnings next to a usable config', () => {
    const { config, diagnostics } = validateConfigText('version: 1\nproject: p\n', '/srv/p/sandboxshift.yaml');

    expect(config?.environments).toEqual({});
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      '/srv/p/sandboxshift.yaml:1:1: warning: no environments are defined: plan and apply will have nothing to do\n  hint: add one under environments:, e.g. `agent: { image: auto }`',
    ]);
  });
});
