// The backstop for lost events: a full reconcile every `everyMs`.
import type { Trigger, TriggerSink } from './trigger.js';

export class ResyncTrigger implements Trigger {
  readonly name = 'resync';
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly everyMs: number) {}

  async start(sink: TriggerSink): Promise<void> {
    this.timer = setInterval(() => sink.request({ kind: 'resync' }), this.everyMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
