// Protect records on a recording fake engine: the new record is created before the old one is
// removed (a crash in between leaves both, read as protected), and a container we did not
// create is never reused or removed.
import { describe, expect, it } from 'vitest';
import type { Docker } from '../../../src/engine/index.js';
import { recordProtect, removeProtectRecords } from '../../../src/engine/protect-record.js';

type Labels = Record<string, string>;

function fakeEngine(existing: Record<string, Labels>) {
  const calls: string[] = [];
  const byName = new Map(Object.entries(existing).map(([name, labels]) => [name, { id: `id-${name}`, labels }]));
  const find = (ref: string) => [...byName.entries()].find(([name, c]) => name === ref || c.id === ref);
  const notFound = () => Object.assign(new Error('no such container'), { statusCode: 404 });
  const docker = {
    getImage: () => ({ inspect: async () => ({}) }),
    listContainers: async (o: { filters: { label: string[] } }) =>
      [...byName.values()].filter((c) => o.filters.label.every((kv) => c.labels[kv.slice(0, kv.indexOf('='))] === kv.slice(kv.indexOf('=') + 1))).map((c) => ({ Id: c.id, Labels: c.labels })),
    createContainer: async (o: { name: string; Labels: Labels }) => {
      calls.push(`create ${o.name}`);
      if (byName.has(o.name)) throw Object.assign(new Error('name in use'), { statusCode: 409 });
      byName.set(o.name, { id: `id-${o.name}`, labels: o.Labels });
      return { id: `id-${o.name}` };
    },
    getContainer: (ref: string) => ({
      inspect: async () => {
        const hit = find(ref);
        if (!hit) throw notFound();
        return { Id: hit[1].id, Config: { Labels: hit[1].labels } };
      },
      remove: async () => {
        const hit = find(ref);
        if (!hit) throw notFound();
        calls.push(`remove ${ref}`);
        byName.delete(hit[0]);
      },
    }),
  };
  return { docker: docker as unknown as Docker, calls, names: () => [...byName.keys()].sort() };
}

const ours = (env: string, protect: boolean): Labels => ({
  'io.sandboxshift.project': 'demo',
  'io.sandboxshift.environment': env,
  'io.sandboxshift.role': 'protect',
  'io.sandboxshift.protect': String(protect),
});

describe('protect records', () => {
  it('creates the new record, then removes the old one by id', async () => {
    const e = fakeEngine({ 'ss.demo.a.protect-off': ours('a', false) });
    await recordProtect(e.docker, 'demo', 'a', true);
    expect(e.calls).toEqual(['create ss.demo.a.protect-on', 'remove id-ss.demo.a.protect-off']);
    expect(e.names()).toEqual(['ss.demo.a.protect-on']);
  });

  it('finishes an interrupted change: keeps its own record, removes the other', async () => {
    const e = fakeEngine({ 'ss.demo.a.protect-off': ours('a', false), 'ss.demo.a.protect-on': ours('a', true) });
    await recordProtect(e.docker, 'demo', 'a', false);
    expect(e.calls).toEqual(['create ss.demo.a.protect-off', 'remove id-ss.demo.a.protect-on']);
    expect(e.names()).toEqual(['ss.demo.a.protect-off']);
  });

  it('refuses a container of the record name it did not create, and leaves everything', async () => {
    const e = fakeEngine({ 'ss.demo.a.protect-on': { owner: 'someone' }, 'ss.demo.a.protect-off': ours('a', false) });
    await expect(recordProtect(e.docker, 'demo', 'a', true)).rejects.toThrow(
      'a container named ss.demo.a.protect-on exists that sandboxshift did not create as this protect record; rename or remove it, then apply again',
    );
    expect(e.names()).toEqual(['ss.demo.a.protect-off', 'ss.demo.a.protect-on']);
    // Ours, but for the other value: not reused either.
    const wrong = fakeEngine({ 'ss.demo.a.protect-on': ours('a', false) });
    await expect(recordProtect(wrong.docker, 'demo', 'a', true)).rejects.toThrow('did not create as this protect record');
  });

  it('finds a record renamed outside sandboxshift by its labels', async () => {
    const e = fakeEngine({ 'renamed-by-hand': ours('a', true) });
    await recordProtect(e.docker, 'demo', 'a', false);
    expect(e.calls).toEqual(['create ss.demo.a.protect-off', 'remove id-renamed-by-hand']);
    expect(e.names()).toEqual(['ss.demo.a.protect-off']);
  });

  it('never removes a container of the other name that is not ours', async () => {
    const e = fakeEngine({ 'ss.demo.a.protect-off': { owner: 'someone' }, 'ss.demo.b.protect-on': ours('b', true) });
    await recordProtect(e.docker, 'demo', 'a', true);
    await removeProtectRecords(e.docker, 'demo', 'a');
    expect(e.calls).toEqual(['create ss.demo.a.protect-on', 'remove id-ss.demo.a.protect-on']);
    expect(e.names()).toEqual(['ss.demo.a.protect-off', 'ss.demo.b.protect-on']);
  });
});
