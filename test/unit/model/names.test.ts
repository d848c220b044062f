// Every engine name SandboxShift derives is unique within its namespace (containers, networks,
// volumes), for any environment names validate lets through; the one name that would collide
// with a fixed name (`lock`, the apply lock's container) is refused by validate.
import { describe, expect, it } from 'vitest';
import { validateConfigText } from '../../../src/config/index.js';
import { RESERVED_ENVIRONMENT_NAMES } from '../../../src/config/semantic-checks.js';
import { containerName, lockContainerName, networkName, outsideNetworkName, fillingRecordName, protectRecordName, proxyName, volumeName } from '../../../src/model/names.js';

const PROJECT = 'demo';

/** Every engine name a project with these environments uses, by namespace. */
function engineNames(envs: readonly string[]): Record<'containers' | 'networks' | 'volumes', string[]> {
  return {
    containers: [
      lockContainerName(PROJECT),
      ...envs.flatMap((e) => [
        containerName(PROJECT, e),
        proxyName(PROJECT, e),
        protectRecordName(PROJECT, e, true),
        protectRecordName(PROJECT, e, false),
        fillingRecordName(PROJECT, e),
        `${volumeName(PROJECT, e)}.copy`,
      ]),
    ],
    networks: [outsideNetworkName(PROJECT), ...envs.map((e) => networkName(PROJECT, e))],
    volumes: envs.map((e) => volumeName(PROJECT, e)),
  };
}

function duplicates(names: string[]): string[] {
  return names.filter((n, i) => names.indexOf(n) !== i);
}

function valid(env: string): boolean {
  const text = `version: 1\nproject: ${PROJECT}\nenvironments:\n  ${env}: {}\n`;
  return validateConfigText(text, 'sandboxshift.yaml').diagnostics.every((d) => d.severity !== 'error');
}

// Names that echo every fixed part of a derived name, plus ordinary ones.
const CANDIDATES = ['lock', 'egress', 'egress-out', 'net', 'workspace', 'protect-on', 'protect-off', 'ss', 'demo', 'lock-env', 'a', 'a-b', 'b', 'x1', '0'];

describe('engine names', () => {
  it("without the reserved-name check, an environment named 'lock' takes the lock's container name", () => {
    expect(containerName(PROJECT, 'lock')).toBe(lockContainerName(PROJECT));
    expect(duplicates(engineNames(['lock']).containers)).toEqual(['ss.demo.lock']);
  });

  it('every reserved name is one that collides, and validate refuses each with the reason', () => {
    for (const name of Object.keys(RESERVED_ENVIRONMENT_NAMES)) {
      expect(duplicates(engineNames([name]).containers).length).toBeGreaterThan(0);
      const text = `version: 1\nproject: ${PROJECT}\nenvironments:\n  ${name}: {}\n`;
      expect(validateConfigText(text, 'sandboxshift.yaml').diagnostics.map((d) => [d.message, d.line, d.col, d.hint])).toEqual([
        [`environment name '${name}' is reserved: its container would be named ss.${PROJECT}.${name}, the name of the apply lock`, 4, 3, `rename the environment, e.g. '${name}-env'`],
      ]);
    }
  });

  it('all names validate accepts give distinct engine names in every namespace', () => {
    const accepted = CANDIDATES.filter(valid);
    expect(accepted).toEqual(CANDIDATES.filter((n) => !(n in RESERVED_ENVIRONMENT_NAMES)));
    const names = engineNames(accepted);
    expect(duplicates(names.containers)).toEqual([]);
    expect(duplicates(names.networks)).toEqual([]);
    expect(duplicates(names.volumes)).toEqual([]);
  });
});
