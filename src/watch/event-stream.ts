// The engine's event stream as watch needs it: JSON lines handed over one event at a time (in
// Docker's terms, on Podman too: engine/podman-events.ts), and reconnected with capped backoff
// when it is lost (an engine restart), with a word when it is back. The drift trigger and the
// idle clock each follow one.
import { engineMessage, type Engine } from '../engine/client.js';
import { engineFlavour } from '../engine/flavour.js';
import { podmanEventFilters, podmanEventInDockerTerms } from '../engine/podman-events.js';
import { Backoff, type BackoffOptions } from './backoff.js';

export const RECONNECT_BACKOFF: BackoffOptions = { initialMs: 1_000, capMs: 30_000 };

export interface EventStreamHandlers {
  /** One parsed event. */
  event(event: unknown): void;
  /** A line that is not JSON (skipped). */
  unreadable(line: string): void;
  /** The stream is gone (or could not be opened); the next try is in `retryMs`. */
  lost(why: string, retryMs: number): void;
  /** Connected again after a loss. */
  back(): void;
}

export class ReconnectingEventStream {
  private stream: NodeJS.ReadableStream | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff = new Backoff(RECONNECT_BACKOFF);
  private lostOnce = false;
  private closed = false;

  constructor(
    private readonly engine: Engine,
    private readonly filters: Record<string, string[]>,
    private readonly on: EventStreamHandlers,
    private readonly now: () => number = Date.now,
  ) {}

  /** Opens the stream; resolves after the first attempt (a failed one is retried on its own). */
  async open(): Promise<void> {
    if (this.closed) return;
    try {
      const docker = await this.engine.docker();
      // Filters and events are in Docker's terms; Podman names some events otherwise.
      const podman = (await engineFlavour(docker)) === 'podman';
      const stream: NodeJS.ReadableStream = await docker.getEvents({ filters: podman ? podmanEventFilters(this.filters) : this.filters });
      if (this.closed) {
        destroy(stream);
        return;
      }
      this.stream = stream;
      this.backoff.succeed('stream');
      if (this.lostOnce) {
        this.lostOnce = false;
        this.on.back();
      }
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          let event: unknown;
          try {
            event = JSON.parse(line);
          } catch {
            this.on.unreadable(line);
            continue;
          }
          this.on.event(podman ? podmanEventInDockerTerms(event) : event);
        }
      });
      const lost = (why: string) => {
        if (this.stream !== stream) return;
        this.stream = null;
        this.retry(why);
      };
      stream.on('end', () => lost('the stream ended'));
      stream.on('close', () => lost('the stream closed'));
      stream.on('error', (err: unknown) => lost(engineMessage(err)));
    } catch (err) {
      this.retry(engineMessage(err));
    }
  }

  private retry(why: string): void {
    if (this.closed) return;
    this.lostOnce = true;
    const delay = this.backoff.fail('stream', this.now());
    this.on.lost(why, delay);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.open();
    }, delay);
  }

  /** Stops for good: no more events, no reconnect. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const stream = this.stream;
    this.stream = null;
    if (stream) destroy(stream);
  }
}

function destroy(stream: NodeJS.ReadableStream): void {
  (stream as unknown as { destroy?: () => void }).destroy?.();
}
