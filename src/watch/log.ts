// One line per decision, with its reason: plain text for people, or one JSON object per line
// (--log-format json) for machines. Secrets never reach here: diagnostics and plan reasons
// name secrets, never their values.

export type LogFormat = 'text' | 'json';

export type LogFields = Record<string, unknown>;

export interface WatchLog {
  /** `event` is a stable machine name (e.g. `reconcile-start`); `message` the line people read. */
  line(event: string, message: string, fields?: LogFields): void;
}

export function watchLog(format: LogFormat, write: (text: string) => void, now: () => Date = () => new Date()): WatchLog {
  return {
    line(event, message, fields = {}) {
      const ts = now().toISOString();
      if (format === 'json') write(`${JSON.stringify({ ts, event, msg: message, ...fields })}\n`);
      else write(`${ts} ${message}\n`);
    },
  };
}
