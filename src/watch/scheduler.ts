// The loop's two timing rules, kept apart from I/O so they are tested with fake timers:
// - Debouncer: a burst of hints (an editor writing a file in several steps) becomes one, after
//   the burst has been quiet for `ms`;
// - Coalescer: one reconcile at a time; triggers that arrive while one runs are gathered and
//   run as exactly one more reconcile after it (level-triggered: that run observes afresh, so
//   nothing is lost by merging them).

export class Debouncer<T> {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private gathered = new Set<T>();

  constructor(
    private readonly ms: number,
    private readonly fire: (items: T[]) => void,
  ) {}

  push(item: T): void {
    this.gathered.add(item);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const items = [...this.gathered];
      this.gathered = new Set();
      this.fire(items);
    }, this.ms);
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.gathered.clear();
  }
}

/** Why a reconcile runs: the trigger's kind and, when it has one, what it saw. */
export interface TriggerHint {
  kind: string;
  detail?: string;
}

export class Coalescer {
  private pending = new Map<string, TriggerHint>();
  private current: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly run: (hints: TriggerHint[]) => Promise<void>) {}

  /** Asks for a reconcile; returns at once. */
  request(hint: TriggerHint): void {
    if (this.closed) return;
    this.pending.set(`${hint.kind}\0${hint.detail ?? ''}`, hint);
    if (!this.current) this.current = this.drain();
  }

  get running(): boolean {
    return this.current !== null;
  }

  /** Resolves once no reconcile runs and none is pending. */
  async settled(): Promise<void> {
    while (this.current) await this.current;
  }

  /** No more reconciles start (those pending are dropped); resolves when the one running (if any) has finished. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending.clear();
    await this.current;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.size > 0 && !this.closed) {
        const hints = [...this.pending.values()];
        this.pending.clear();
        await this.run(hints);
      }
    } finally {
      this.current = null;
    }
  }
}
