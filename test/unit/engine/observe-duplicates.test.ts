// Which of several containers labelled with one environment is the environment, and which are strays.
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { buildObserved } from '../../../src/engine/observe.js';

const container = (id: string, name: string, created: number): Docker.ContainerInfo =>
  ({
    Id: id.repeat(64),
    Names: [`/${name}`],
    Created: created,
    State: 'running',
    Status: 'Up',
    Image: 'img',
    ImageID: 'sha256:1',
    Labels: { 'io.sandboxshift.project': 'demo', 'io.sandboxshift.environment': 'web', 'io.sandboxshift.role': 'environment' },
  }) as unknown as Docker.ContainerInfo;

describe('duplicates', () => {
  it('keeps the container with the environment name, even when a copy was made in the same second', () => {
    const o = buildObserved('demo', [container('b', 'ss.demo.web-copy', 100), container('a', 'ss.demo.web', 100)], [], [], {});
    expect(o.containers.get('web')?.name).toBe('ss.demo.web');
    expect(o.duplicates.map((d) => d.name)).toEqual(['ss.demo.web-copy']);
  });

  it('otherwise keeps the oldest', () => {
    const o = buildObserved('demo', [container('b', 'x-2', 200), container('a', 'x-1', 100)], [], [], {});
    expect(o.containers.get('web')?.name).toBe('x-1');
  });
});
