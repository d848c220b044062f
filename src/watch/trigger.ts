// What makes the loop reconcile. Triggers are hints: each asks for a reconcile and may say what
// it saw; the reconcile itself always observes the engine afresh. A new source (git polling, a
// webhook, an idle clock) is one more Trigger.
import type { Loaded } from '../app/pipeline.js';
import type { TriggerHint } from './scheduler.js';
import type { WatchLog } from './log.js';

export interface TriggerSink {
  request(hint: TriggerHint): void;
  /** Something changed on the engine behind our back (logged as drift unless we are changing it). */
  drift(what: string, environment: string | null): void;
  /** The watcher itself is about to change `environment` (an idle stop): its events until `untilMs` are not drift. */
  changing?(environment: string, untilMs: number): void;
  log: WatchLog;
}

export interface Trigger {
  readonly name: string;
  start(sink: TriggerSink): Promise<void>;
  /** After each config that loaded cleanly: what to watch may have changed (files, project). */
  configLoaded?(loaded: Loaded): Promise<void> | void;
  /** After each reconcile toward `loaded`; `clean`: everything planned was applied (nothing failed, skipped or held back). */
  reconciled?(loaded: Loaded, clean: boolean): Promise<void> | void;
  stop(): Promise<void>;
}
