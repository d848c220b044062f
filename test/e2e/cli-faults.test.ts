// Small faults a user hits at the command line: no engine, unknown targets, bad numeric flags.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerState, docker, testProject, type TestProject, busyboxConfig } from './harness.js';

const config = busyboxConfig('  one: {}\n');

describe('with no engine answering', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('noengine', config);
  });
  afterAll(async () => p.cleanup());

  const commands: string[][] = [['logs', 'one'], ['egress', 'one'], ['status'], ['plan'], ['apply', '--auto-approve'], ['destroy', '--auto-approve'], ['unlock', 'deadbeef']];
  for (const args of commands) {
    it(`${args[0]} says the engine cannot be reached and what to do, without a stack trace`, async () => {
      const r = await p.run(args, { env: { DOCKER_HOST: 'unix:///nonexistent' } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('error: cannot reach the Docker engine at DOCKER_HOST=unix:///nonexistent (ENOENT)');
      expect(r.stderr).toContain('hint: start Docker');
      expect(r.stderr).not.toContain('internal error');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }
});

// Values that fail here, without a name lookup or any address but loopback.
describe('with a DOCKER_HOST that names no engine', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('badhost', config);
  });
  afterAll(async () => p.cleanup());

  const hosts: Array<[string, string]> = [
    ['tcp://', 'no host after tcp://'],
    ['foo://127.0.0.1:1', 'unknown scheme foo://'],
    ['tcp://127.0.0.1:99999', 'not a URL, or its port is not a number up to 65535'],
  ];
  const commands: string[][] = [['plan'], ['apply', '--auto-approve'], ['status'], ['exec', 'one', 'true'], ['unlock', 'deadbeef']];
  for (const [host, problem] of hosts) {
    for (const args of commands) {
      it(`DOCKER_HOST=${host}: ${args[0]} says it is not an engine's address and what to set, without a stack trace`, async () => {
        const r = await p.run(args, { env: { DOCKER_HOST: host } });
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(
          `error: cannot reach the Docker engine: DOCKER_HOST=${host} is not an engine's address (${problem})\n` +
            '  hint: set DOCKER_HOST to unix:///PATH/TO/docker.sock, tcp://HOST:PORT or ssh://USER@HOST, or unset it to use the engine on /var/run/docker.sock\n',
        );
      });
    }
  }
});

describe('command-line checks', () => {
  let p: TestProject;
  beforeAll(async () => {
    p = testProject('cliflags', config.replace('  one: {}\n', '  one: { command: "echo first; echo second; echo third; exec sleep 3600" }\n'));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => p.cleanup());

  it('destroy --target with an unknown environment is an error, and removes nothing', async () => {
    const r = await p.run(['destroy', '--auto-approve', '--target', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: --target nope: no environment of that name in the config or on the engine');
    expect(r.stderr).toContain('hint: known environments: one');
    expect(await containerState(p.name, 'one')).toBe('running');
  });

  it('logs --tail takes only a whole number', async () => {
    for (const bad of ['abc', '-1', '1.5', '1e3']) {
      const r = await p.run(['logs', 'one', `--tail=${bad}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: logs: --tail must be a whole number (0 or more), got '${bad}'`);
    }
    const all = await p.run(['logs', 'one']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toBe('first\nsecond\nthird\n');
    expect((await p.run(['logs', 'one', '--tail', '1'])).stdout).toBe('third\n');
    const none = await p.run(['logs', 'one', '--tail', '0']);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toBe('');
  });

  it('--parallelism takes only a whole number of at least 1', async () => {
    for (const [command, bad] of [
      ['apply', 'abc'],
      ['apply', '0'],
      ['destroy', '2x'],
      ['destroy', '0x10'],
    ] as const) {
      const r = await p.run([command, '--auto-approve', `--parallelism=${bad}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: ${command}: --parallelism must be a whole number of at least 1, got '${bad}'`);
    }
    expect(await containerState(p.name, 'one')).toBe('running');
  });
});

describe('a secret from a device', () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject(
      'bigsecret',
      `${config}    secrets:
      key: { fromFile: /dev/zero }
`.replace('  one: {}\n', '  one:\n'),
    );
  });
  afterAll(async () => p.cleanup());

  it('is refused at once with the limit named, and nothing is created', async () => {
    const started = Date.now();
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "error: secret 'key' of environment 'one': /dev/zero is a device, not a regular file; a secret is read from a file of at most 500 KiB (at environments.one.secrets.key)",
    );
    expect(r.stderr).toContain('hint: point fromFile at a regular file holding the secret');
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await containerState(p.name, 'one')).toBeNull();
  });
});

describe('out-of-range resources', () => {
  let p: TestProject;
  const withResources = (resources: string) => config.replace('resources: { cpus: 0.25, memory: 32m, pids: 32 }', `resources: { ${resources} }`);
  beforeAll(() => {
    p = testProject('limits', withResources('memory: 1e100, pids: 1e100, cpus: 1025'));
  });
  afterAll(async () => p.cleanup());

  it('validate refuses limits no engine can give, each at its place', async () => {
    const r = await p.run(['validate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("sandboxshift.yaml:8:24: error: 'memory' is 1e+100, above the most a limit can be (1024TiB) (at defaults.resources.memory)");
    expect(r.stderr).toContain("sandboxshift.yaml:8:37: error: 'pids' is 1e+100, above the most Linux allows (4194304) (at defaults.resources.pids)");
    expect(r.stderr).toContain("sandboxshift.yaml:8:50: error: 'cpus' is 1025, above the most a limit can be (1024) (at defaults.resources.cpus)");
    expect(r.stderr).toContain('3 errors in sandboxshift.yaml');
  });

  it('plan refuses more CPUs or memory than this engine has, with a hint, and apply creates nothing', async () => {
    const info = await docker.info();
    p.write(withResources(`cpus: ${info.NCPU + 1}, memory: 1000t, pids: 64`));
    const r = await p.run(['plan']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: environment 'one' asks for ${info.NCPU + 1} cpus, but the engine has ${info.NCPU} (at environments.one.resources.cpus)`);
    expect(r.stderr).toContain(`hint: lower resources.cpus to at most ${info.NCPU}, or use an engine with more CPUs`);
    expect(r.stderr).toContain("error: environment 'one' asks for 1000 TiB of memory, but the engine has ");
    expect(r.stderr).toContain('hint: lower resources.memory (the engine has ');
    const a = await p.run(['apply', '--auto-approve']);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain(`asks for ${info.NCPU + 1} cpus, but the engine has ${info.NCPU}`);
    expect(await containerState(p.name, 'one')).toBeNull();
  });
});

describe("an environment named 'lock'", () => {
  let p: TestProject;
  beforeAll(() => {
    p = testProject('reserved', config.replace('  one: {}\n', '  one: {}\n  lock: {}\n'));
  });
  afterAll(async () => p.cleanup());

  it('is refused before the engine is touched, saying which name it would take', async () => {
    for (const command of [['validate'], ['apply', '--auto-approve']]) {
      const r = await p.run(command);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `sandboxshift.yaml:11:3: error: environment name 'lock' is reserved: its container would be named ss.${p.name}.lock, the name of the apply lock (at environments.lock)`,
      );
      expect(r.stderr).toContain("hint: rename the environment, e.g. 'lock-env'");
    }
    expect(await containerState(p.name, 'one')).toBeNull();
    const left = await docker.listContainers({ all: true, filters: { label: [`io.sandboxshift.project=${p.name}`] } });
    expect(left).toEqual([]);
  });

  it("is fine as 'lock-env', next to the apply lock", async () => {
    p.write(config.replace('  one: {}\n', '  one: {}\n  lock-env: {}\n'));
    const r = await p.run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(await containerState(p.name, 'lock-env')).toBe('running');
  });
});
