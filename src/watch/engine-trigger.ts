// The engine's event stream: a project container that dies, stops, is killed, runs out of
// memory, is removed or paused, a project network a container is disconnected from, a project
// volume removed. One stream, filtered by type and action on the engine; which events are the
// project's is decided here, because network and volume events carry the object's name but
// not its labels. The stream reconnects with capped backoff (an engine restart) and asks for a
// full resync once it is back, for what happened while it was gone.
import { ReconnectingEventStream } from './event-stream.js';
import type { Loaded } from '../app/pipeline.js';
import type { Engine } from '../engine/client.js';
import { Labels } from '../engine/labels.js';
import { formatDelay } from './backoff.js';
import { Debouncer } from './scheduler.js';
import type { Trigger, TriggerSink } from './trigger.js';

export const EVENT_FILTERS = {
  type: ['container', 'network', 'volume'] as Array<'container' | 'network' | 'volume'>,
  event: ['die', 'stop', 'kill', 'oom', 'destroy', 'pause', 'disconnect'],
};

const CONTAINER_DRIFT: Record<string, string> = {
  die: 'container exited',
  stop: 'container stopped',
  kill: 'container killed',
  oom: 'container ran out of memory',
  destroy: 'container removed',
  pause: 'container paused',
};

export interface EngineEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** What an event says changed for `project`, or null when it is not the project's drift. */
export function driftOf(event: EngineEvent, project: string): { what: string; environment: string | null } | null {
  const attrs = event.Actor?.Attributes ?? {};
  const prefix = `ss.${project}.`;
  const action = event.Action ?? '';
  if (event.Type === 'container') {
    if (attrs[Labels.project] !== project) return null;
    // Locks, records and copy helpers come and go by design.
    const role = attrs[Labels.role];
    if (role !== 'environment' && role !== 'egress') return null;
    // SIGHUP to a proxy is apply reloading its allow list in place (reload-egress-policy), not drift.
    if (role === 'egress' && action === 'kill' && attrs.signal === '1') return null;
    const what = CONTAINER_DRIFT[action];
    if (!what) return null;
    return { what: role === 'egress' ? `egress proxy ${what.replace('container ', '')}` : what, environment: attrs[Labels.environment] ?? null };
  }
  if (event.Type === 'network' && action === 'disconnect' && (attrs.name ?? '').startsWith(prefix)) {
    return { what: `disconnected from network ${attrs.name}`, environment: environmentOf(attrs.name!, prefix) };
  }
  // Podman names the container (ss.P.E or its proxy ss.P.E.egress), not the network.
  if (event.Type === 'network' && action === 'disconnect' && (attrs.containerName ?? '').startsWith(prefix)) {
    return { what: `${attrs.containerName} disconnected from a network`, environment: environmentOf(attrs.containerName!, prefix) };
  }
  if (event.Type === 'volume' && action === 'destroy' && (event.Actor?.ID ?? '').startsWith(prefix)) {
    return { what: `volume ${event.Actor!.ID} removed`, environment: environmentOf(event.Actor!.ID!, prefix) };
  }
  return null;
}

function environmentOf(name: string, prefix: string): string | null {
  return name.slice(prefix.length).split('.')[0] || null;
}

export const EVENT_DEBOUNCE_MS = 50;
export class EngineEventsTrigger implements Trigger {
  readonly name = 'engine';
  private project: string | null = null;
  private sink: TriggerSink | null = null;
  private events: ReconnectingEventStream | null = null;
  private stopped = false;
  private readonly debounce: Debouncer<string>;

  constructor(private readonly engine: Engine) {
    this.debounce = new Debouncer(EVENT_DEBOUNCE_MS, (whats) => this.sink?.request({ kind: 'engine', detail: whats.join(',') }));
  }

  async start(sink: TriggerSink): Promise<void> {
    this.sink = sink;
  }

  async configLoaded(loaded: Loaded): Promise<void> {
    if (loaded.desired.project === this.project) return;
    this.project = loaded.desired.project;
    this.disconnect();
    await this.connect();
  }

  private async connect(): Promise<void> {
    const project = this.project;
    if (this.stopped || !project || !this.sink) return;
    const sink = this.sink;
    this.events = new ReconnectingEventStream(this.engine, EVENT_FILTERS, {
      event: (event) => this.handle(event as EngineEvent, project, sink),
      unreadable: (line) => sink.log.line('engine-events', `engine events: unreadable event skipped (${line.slice(0, 80)})`),
      lost: (why, retryMs) => sink.log.line('engine-events', `engine events: disconnected (${why}); reconnecting in ${formatDelay(retryMs)}`, { retryMs }),
      back: () => {
        sink.log.line('engine-events', 'engine events: connected again; full resync');
        sink.request({ kind: 'resync', detail: 'engine events back' });
      },
    });
    await this.events.open();
  }

  private handle(event: EngineEvent, project: string, sink: TriggerSink): void {
    const drift = driftOf(event, project);
    if (!drift) return;
    sink.drift(drift.what, drift.environment);
    this.debounce.push(drift.environment ? `${drift.environment}:${event.Action}` : String(event.Action));
  }

  private disconnect(): void {
    this.events?.close();
    this.events = null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.debounce.cancel();
    this.disconnect();
  }
}
