import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfigText } from '../../../src/config/index.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';

function check(...lines: string[]): { messages: string[]; loaded: boolean } {
  const text = ['version: 1', 'project: demo', ...lines, ''].join('\n');
  const { config, diagnostics } = validateConfigText(text, 'sandboxshift.yaml');
  return { messages: diagnostics.map(formatDiagnostic), loaded: config !== undefined };
}

describe.each([
  {
    setting: 'privileged',
    line: '    privileged: true',
    expected:
      "sandboxshift.yaml:5:17: error: privileged: true is refused for environment 'box': a privileged container can take over the host (at environments.box.privileged)\n  hint: add allowDangerous: [privileged] to environment 'box' if you really mean it",
  },
  {
    setting: 'host-network',
    line: '    hostNetwork: true',
    expected:
      "sandboxshift.yaml:5:18: error: hostNetwork: true is refused for environment 'box': it shares the host's network and bypasses the egress rules (at environments.box.hostNetwork)\n  hint: add allowDangerous: [host-network] to environment 'box' if you really mean it",
  },
  {
    setting: 'docker-socket',
    line: '    mounts: [{source: /var/run/docker.sock, target: /var/run/docker.sock}]',
    expected:
      "sandboxshift.yaml:5:23: error: mounting the Docker socket is refused for environment 'box': it gives the sandbox control of the Docker engine, and so of the host (at environments.box.mounts[0].source)\n  hint: add allowDangerous: [docker-socket] to environment 'box' if you really mean it",
  },
  {
    setting: 'docker-socket',
    line: '    mounts: [{source: /home/me/.colima/default/docker.sock, target: /run/docker.sock}]',
    expected:
      "sandboxshift.yaml:5:23: error: mounting the Docker socket is refused for environment 'box': it gives the sandbox control of the Docker engine, and so of the host (at environments.box.mounts[0].source)\n  hint: add allowDangerous: [docker-socket] to environment 'box' if you really mean it",
  },
  {
    setting: 'host-mounts',
    line: '    mounts: [{source: ~/.ssh, target: /home/agent/.ssh, readOnly: true}]',
    expected:
      "sandboxshift.yaml:5:23: error: mounting host path '~/.ssh' is refused for environment 'box': it exposes host files to the sandbox (at environments.box.mounts[0].source)\n  hint: add allowDangerous: [host-mounts] to environment 'box' if you really mean it",
  },
  {
    setting: 'root-user',
    line: '    user: "0:0"',
    expected:
      "sandboxshift.yaml:5:11: error: running as root (uid 0) is refused for environment 'box': root inside the container makes any escape a root escape (at environments.box.user)\n  hint: add allowDangerous: [root-user] to environment 'box' if you really mean it",
  },
])('$setting ($line)', ({ setting, line, expected }) => {
  it('is refused without the opt-in', () => {
    expect(check('environments:', '  box:', line)).toEqual({ messages: [expected], loaded: false });
  });

  it('is accepted with the opt-in', () => {
    expect(check('environments:', '  box:', line, `    allowDangerous: [${setting}]`)).toEqual({ messages: [], loaded: true });
  });

  it('is not accepted by a different opt-in', () => {
    const other = setting === 'privileged' ? 'root-user' : 'privileged';
    expect(check('environments:', '  box:', line, `    allowDangerous: [${other}]`).messages).toEqual([expected]);
  });
});

describe('dangerous settings from defaults', () => {
  it('are refused in every environment that inherits them, pointing at the defaults line', () => {
    const { messages } = check('defaults:', '  privileged: true', 'environments:', '  a: {}', '  b: {allowDangerous: [privileged]}', '  c: {privileged: false}');
    expect(messages).toEqual([
      "sandboxshift.yaml:4:15: error: privileged: true is refused for environment 'a' (set in defaults): a privileged container can take over the host (at defaults.privileged)\n  hint: add allowDangerous: [privileged] to environment 'a' if you really mean it",
    ]);
  });

  it('an opt-in in defaults covers every environment', () => {
    expect(check('defaults:', '  hostNetwork: true', '  allowDangerous: [host-network]', 'environments:', '  a: {}')).toEqual({ messages: [], loaded: true });
  });

  it('an environment that sets its own allowDangerous replaces the one from defaults', () => {
    const { messages } = check('defaults:', '  allowDangerous: [root-user]', 'environments:', '  a: {user: 0, allowDangerous: [privileged]}');
    expect(messages).toEqual([
      "sandboxshift.yaml:6:13: error: running as root (uid 0) is refused for environment 'a': root inside the container makes any escape a root escape (at environments.a.user)\n  hint: add allowDangerous: [root-user] to environment 'a' if you really mean it",
    ]);
  });
});

describe('settings that look dangerous but are not', () => {
  it('false flags, non-root users and no mounts need no opt-in', () => {
    expect(check('environments:', '  a: {privileged: false, hostNetwork: false, user: "1000:0", mounts: []}')).toEqual({ messages: [], loaded: true });
  });
});

describe("a host folder that holds the engine's socket", () => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-sock-'));
  const socket = join(dir, 'run', 'user', 'docker.sock');
  mkdirSync(dirname(socket), { recursive: true });
  writeFileSync(socket, '');
  const saved = process.env.DOCKER_HOST;
  beforeAll(() => {
    process.env.DOCKER_HOST = `unix://${socket}`;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  const refusal = (what: string, line: string, value: string, at: string) =>
    `sandboxshift.yaml:4:${line.indexOf(value) + 1}: error: ${what} is refused for environment 'box': it holds the Docker engine's socket ${realpathSync(socket)}, which gives the sandbox control of the engine, and so of the host (at environments.box.${at})\n  hint: add allowDangerous: [docker-socket] to environment 'box' if you really mean it`;

  it('as /workspace or as a mount needs docker-socket as well as host-mounts, at any depth', () => {
    const workspace = `  box: {allowDangerous: [host-mounts], workspace: {hostPath: ${dir}/run}}`;
    expect(check('environments:', workspace).messages).toEqual([refusal(`using host folder '${dir}/run' as /workspace`, workspace, `${dir}/run`, 'workspace.hostPath')]);
    const mount = `  box: {allowDangerous: [host-mounts], mounts: [{source: ${dir}, target: /x}]}`;
    expect(check('environments:', mount).messages).toEqual([refusal(`mounting host path '${dir}'`, mount, dir, 'mounts[0].source')]);
    expect(check('environments:', `  box: {allowDangerous: [host-mounts, docker-socket], workspace: {hostPath: ${dir}/run}}`)).toEqual({ messages: [], loaded: true });
  });

  it('a folder beside it needs host-mounts only', () => {
    mkdirSync(join(dir, 'work'));
    expect(check('environments:', `  box: {allowDangerous: [host-mounts], workspace: {hostPath: ${dir}/work}}`)).toEqual({ messages: [], loaded: true });
  });
});
