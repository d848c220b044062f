// A DOCKER_HOST that names no engine, or whose host name does not resolve, is advice naming its
// value and what to check, never an internal error with a stack trace (src/engine/client.ts).
// No name is looked up here: a failed lookup is stubbed as Node reports it.
import { afterEach, describe, expect, it } from 'vitest';
import { failed } from '../../../src/cli/failed.js';
import type { Io } from '../../../src/cli/io.js';
import { DiagnosticsError } from '../../../src/diagnostics.js';
import { badDockerHost, connectEngine, isEngineUnreachable, withEngine } from '../../../src/engine/client.js';
import { plainTarget } from '../../../src/engine/target.js';
import { plainStyle } from '../../../src/render/style.js';

const saved = process.env.DOCKER_HOST;
afterEach(() => {
  if (saved === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = saved;
});

function captured(): { io: Io; text: () => string } {
  let text = '';
  const io: Io = { out: (t) => void (text += t), err: (t) => void (text += t), style: plainStyle, errStyle: plainStyle, interactive: false };
  return { io, text: () => text };
}

/** A failed name lookup as node:dns reports it (what dockerode's request rejects with). */
const lookupFailed = (code: 'ENOTFOUND' | 'EAI_AGAIN', hostname: string) => Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), { code, errno: -3008, syscall: 'getaddrinfo', hostname });

const FORMS = 'unix:///PATH/TO/docker.sock, tcp://HOST:PORT or ssh://USER@HOST';

describe('a DOCKER_HOST whose host name does not resolve', () => {
  it('is the "cannot reach" advice naming DOCKER_HOST and the host to check, without a stack trace', async () => {
    process.env.DOCKER_HOST = 'garbage';
    const { io, text } = captured();
    expect(await failed(lookupFailed('ENOTFOUND', 'garbage'), io)).toBe(1);
    expect(text()).toBe(
      'error: cannot reach the Docker engine at DOCKER_HOST=garbage (ENOTFOUND)\n' +
        `  hint: the host name garbage does not resolve: check the host in DOCKER_HOST (${FORMS}), or unset DOCKER_HOST to use the engine on /var/run/docker.sock\n`,
    );
  });

  it('reads the host as dockerode does (tcp://, ssh://USER@, a port), and a lookup with no answer says so', async () => {
    process.env.DOCKER_HOST = 'ssh://me@builder.invalid:2222';
    await expect(withEngine(() => Promise.reject(lookupFailed('EAI_AGAIN', 'builder.invalid')))).rejects.toThrow(
      'error: cannot reach the Docker engine at DOCKER_HOST=ssh://me@builder.invalid:2222 (EAI_AGAIN)\n' +
        '  hint: the host name builder.invalid could not be looked up (no answer from DNS): check the network and the host in DOCKER_HOST, or unset DOCKER_HOST to use the engine on /var/run/docker.sock',
    );
    process.env.DOCKER_HOST = 'tcp://engine.invalid:2375';
    expect(isEngineUnreachable(lookupFailed('ENOTFOUND', 'engine.invalid'))).toBe(true);
  });

  it("is not taken for the engine's when another name failed (a registry's, with the local socket or another host)", async () => {
    delete process.env.DOCKER_HOST;
    expect(isEngineUnreachable(lookupFailed('ENOTFOUND', 'registry.invalid'))).toBe(false);
    process.env.DOCKER_HOST = 'tcp://engine.invalid:2375';
    expect(isEngineUnreachable(lookupFailed('ENOTFOUND', 'registry.invalid'))).toBe(false);
    await expect(failed(lookupFailed('ENOTFOUND', 'registry.invalid'), captured().io)).rejects.toThrow('getaddrinfo ENOTFOUND registry.invalid');
  });
});

describe('a DOCKER_HOST that names no engine', () => {
  it.each([
    ['tcp://', 'no host after tcp://'],
    ['ssh://', 'no host after ssh://'],
    ['foo://127.0.0.1:1', 'unknown scheme foo://'],
    ['tcp://127.0.0.1:99999', 'not a URL, or its port is not a number up to 65535'],
    [':::', 'not a URL, or its port is not a number up to 65535'],
  ])('%s: every engine call fails with advice, not a trace', async (value, problem) => {
    process.env.DOCKER_HOST = value;
    expect(() => plainTarget()).not.toThrow();
    expect(plainTarget()).toBeNull();
    const engine = connectEngine();
    const expected = `error: cannot reach the Docker engine: DOCKER_HOST=${value} is not an engine's address (${problem})\n  hint: set DOCKER_HOST to ${FORMS}, or unset it to use the engine on /var/run/docker.sock`;
    await expect(engine.docker()).rejects.toThrow(expected);
    await expect(engine.reader.listContainers({})).rejects.toBeInstanceOf(DiagnosticsError);
    const { io, text } = captured();
    expect(await failed(await engine.docker().catch((e: unknown) => e), io)).toBe(1);
    expect(text()).toBe(`${expected}\n`);
  });

  it.each(['', 'unix:///var/run/docker.sock', 'npipe:////./pipe/docker_engine', 'tcp://127.0.0.1:2375', 'tcp://[::1]:2375', 'garbage', 'garbage:2375', 'ssh://me@host', 'https://host:2376'])(
    '%j names one (or is unset)',
    (value) => {
      expect(badDockerHost({ DOCKER_HOST: value })).toBeNull();
    },
  );
});
