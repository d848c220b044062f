// What observe() reads from the list calls for destroy's clean-up and the sandbox address check.
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { buildObserved } from '../../../src/engine/observe.js';

const project = { 'io.sandboxshift.project': 'demo' };
const listed = (id: string, labels: Record<string, string>, extra: Partial<Docker.ContainerInfo> = {}): Docker.ContainerInfo =>
  ({ Id: id, Names: [`/${id}`], Created: 1, State: 'exited', Status: 'Created', Image: 'img', ImageID: 'sha256:1', Labels: { ...project, ...labels }, ...extra }) as unknown as Docker.ContainerInfo;
const network = (id: string, name: string, labels: Record<string, string>) => ({ Id: id, Name: name, Labels: labels, IPAM: { Config: [] } }) as unknown as Docker.NetworkInspectInfo;

describe('observe for destroy', () => {
  it('lists every environment with idle-stopped or touch records, those that no longer count too', () => {
    const o = buildObserved(
      'demo',
      [
        // An idle record naming a container that is gone: not idle, but still a record to remove.
        listed('idle', { 'io.sandboxshift.environment': 'a', 'io.sandboxshift.role': 'idle-stopped', 'io.sandboxshift.idle.container': 'gone' }),
        listed('touch', { 'io.sandboxshift.environment': 'b', 'io.sandboxshift.role': 'touch', 'io.sandboxshift.idle.touched-at': '5' }),
        listed('protect', { 'io.sandboxshift.environment': 'c', 'io.sandboxshift.role': 'protect' }),
      ],
      [],
      [],
      {},
    );
    expect([...(o.activityRecords ?? [])].sort()).toEqual(['a', 'b']);
    expect(o.idle?.size).toBe(0);
  });

  it('tells our outside network from a look-alike with its name and not our labels', () => {
    const ours = buildObserved('demo', [], [], [], {}, [network('n1', 'ss.demo.egress-out', { ...project, 'io.sandboxshift.role': 'egress' })]);
    expect([ours.outsideNetwork, ours.foreignOutsideNetwork]).toEqual([true, undefined]);
    const other = buildObserved('demo', [], [], [], {}, [network('n2', 'ss.demo.egress-out', {}), network('n3', 'ss.other.egress-out', {})]);
    expect([other.outsideNetwork, other.foreignOutsideNetwork]).toEqual([false, 'n2']);
  });

  it('reads each network address and whether it was fixed from the list call', () => {
    const networks = {
      'ss.demo.a.net': { IPAddress: '10.213.0.19', IPAMConfig: { IPv4Address: '10.213.0.19' } },
      other: { IPAddress: '172.17.0.5', IPAMConfig: null },
    };
    const o = buildObserved('demo', [listed('env', { 'io.sandboxshift.environment': 'a', 'io.sandboxshift.role': 'environment' }, { NetworkSettings: { Networks: networks } } as never)], [], [], {});
    expect(o.containers.get('a')?.isolation?.addresses).toEqual({
      'ss.demo.a.net': { address: '10.213.0.19', fixed: '10.213.0.19' },
      other: { address: '172.17.0.5', fixed: null },
    });
  });
});
