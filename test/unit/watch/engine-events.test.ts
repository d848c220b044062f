// The engine event stream as a trigger, with a fake engine and fake timers: project drift asks
// for a reconcile (debounced), a dropped stream is reopened with a growing delay, and a full
// resync is asked for once it is back.
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Loaded } from '../../../src/app/pipeline.js';
import type { Engine } from '../../../src/engine/client.js';
import { EngineEventsTrigger, EVENT_FILTERS, type TriggerHint, type TriggerSink } from '../../../src/watch/index.js';
import { driftOf } from '../../../src/watch/engine-trigger.js';

function fakeEngine(failFirst = 0, engineName = 'Engine') {
  const streams: PassThrough[] = [];
  const filters: unknown[] = [];
  let failures = failFirst;
  const docker = {
    version: async () => ({ Components: [{ Name: engineName }] }),
    getEvents: async (opts: { filters: unknown }) => {
      filters.push(opts.filters);
      if (failures-- > 0) throw Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' });
      const s = new PassThrough();
      streams.push(s);
      return s;
    },
  };
  const engine = { reader: {}, docker: async () => docker } as unknown as Engine;
  return { engine, streams, filters };
}

function sink() {
  const hints: TriggerHint[] = [];
  const drift: string[] = [];
  const lines: string[] = [];
  const s: TriggerSink = { request: (h) => hints.push(h), drift: (what, env) => drift.push(`${what} ${env}`), log: { line: (_e, m) => lines.push(m) } };
  return { s, hints, drift, lines };
}

const loaded = (project: string) => ({ desired: { project } }) as unknown as Loaded;
const event = (action: string, env: string, project = 'p') =>
  `${JSON.stringify({ Type: 'container', Action: action, Actor: { ID: 'x', Attributes: { 'io.sandboxshift.project': project, 'io.sandboxshift.role': 'environment', 'io.sandboxshift.environment': env } } })}\n`;

describe('EngineEventsTrigger', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("turns the project's drift into one debounced request, split lines and all", async () => {
    const { engine, streams, filters } = fakeEngine();
    const { s, hints, drift } = sink();
    const t = new EngineEventsTrigger(engine);
    await t.start(s);
    await t.configLoaded(loaded('p'));
    expect(filters).toEqual([EVENT_FILTERS]);
    const kill = event('kill', 'a');
    streams[0]!.write(kill.slice(0, 20));
    streams[0]!.write(kill.slice(20) + event('die', 'a') + event('stop', 'a', 'other'));
    await vi.advanceTimersByTimeAsync(49);
    expect(hints).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(hints).toEqual([{ kind: 'engine', detail: 'a:kill,a:die' }]);
    expect(drift).toEqual(['container killed a', 'container exited a']);
    await t.stop();
  });

  it("on Podman: asks with Podman's event names and reads its events in Docker's terms", async () => {
    const { engine, streams, filters } = fakeEngine(0, 'Podman Engine');
    const { s, hints, drift } = sink();
    const t = new EngineEventsTrigger(engine);
    await t.start(s);
    await t.configLoaded(loaded('p'));
    expect(filters).toEqual([{ type: ['container', 'network', 'volume'], event: ['died', 'stop', 'kill', 'oom', 'remove', 'pause', 'disconnect'] }]);
    // As Podman 4.3 sends them: `die` for its `died`, `remove` for Docker's `destroy`, a volume's name in its attributes, a disconnect naming the container.
    streams[0]!.write(event('die', 'a') + event('remove', 'b'));
    streams[0]!.write(`${JSON.stringify({ Type: 'volume', Action: 'remove', Actor: { ID: '', Attributes: { name: 'ss.p.c.workspace' } } })}\n`);
    streams[0]!.write(`${JSON.stringify({ Type: 'volume', Action: 'remove', Actor: { ID: '', Attributes: { name: 'ss.other.c.workspace' } } })}\n`);
    streams[0]!.write(`${JSON.stringify({ Type: 'network', Action: 'disconnect', Actor: { ID: 'c0ffee', Attributes: { name: 'ss.p.d' } } })}\n`);
    await vi.advanceTimersByTimeAsync(50);
    expect(drift).toEqual(['container exited a', 'container removed b', 'volume ss.p.c.workspace removed c', 'ss.p.d disconnected from a network d']);
    expect(hints).toEqual([{ kind: 'engine', detail: 'a:die,b:destroy,c:destroy,d:disconnect' }]);
    await t.stop();
  });

  it('reopens a dropped stream after 1 s, then 2 s, and asks for a full resync once back', async () => {
    const { engine, streams, filters } = fakeEngine();
    const { s, hints, lines } = sink();
    const t = new EngineEventsTrigger(engine);
    await t.start(s);
    await t.configLoaded(loaded('p'));
    streams[0]!.end();
    await vi.advanceTimersByTimeAsync(0);
    expect(lines).toEqual(['engine events: disconnected (the stream ended); reconnecting in 1s']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(filters).toHaveLength(2);
    expect(hints).toEqual([{ kind: 'resync', detail: 'engine events back' }]);
    expect(lines.at(-1)).toBe('engine events: connected again; full resync');
    await t.stop();
  });

  it('backs off while the engine is down, up to 30 s', async () => {
    const { engine, filters } = fakeEngine(7);
    const { s, lines, hints } = sink();
    const t = new EngineEventsTrigger(engine);
    await t.start(s);
    await t.configLoaded(loaded('p'));
    for (const ms of [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]) await vi.advanceTimersByTimeAsync(ms);
    expect(lines.filter((l) => l.startsWith('engine events: disconnected')).map((l) => l.replace(/.*reconnecting in /, ''))).toEqual(['1s', '2s', '4s', '8s', '16s', '30s', '30s']);
    expect(filters).toHaveLength(8);
    expect(hints).toEqual([{ kind: 'resync', detail: 'engine events back' }]);
    await t.stop();
  });
});

describe('driftOf', () => {
  const proxyKill = (signal: string) => ({
    Type: 'container',
    Action: 'kill',
    Actor: { ID: 'x', Attributes: { 'io.sandboxshift.project': 'p', 'io.sandboxshift.role': 'egress', 'io.sandboxshift.environment': 'a', signal } },
  });
  it('takes a SIGHUP to the proxy for the policy reload it is, and any other kill for drift', () => {
    expect(driftOf(proxyKill('1'), 'p')).toBeNull();
    expect(driftOf(proxyKill('9'), 'p')).toEqual({ what: 'egress proxy killed', environment: 'a' });
  });
});
