// The proxy's output is a stream of JSON lines, one per decision, so the user (and tests) can see
// exactly what a sandbox tried to reach and why it was or was not let through.

export interface Decision {
  /** `address:port` of the sandbox side of the connection. */
  client: string;
  method: string;
  /** Normalised when it parsed, else as sent (cut short). Null when the request had none. */
  host: string | null;
  port: number | null;
  decision: 'allow' | 'deny';
  rule?: string;
  reason: string;
  /** The addresses the name resolved to, when the proxy got that far. */
  resolved?: readonly string[];
}

export function decisionLine(decision: Decision, now: Date = new Date()): string {
  const { client, method, host, port, rule, reason, resolved } = decision;
  return JSON.stringify({ ts: now.toISOString(), client, method, host, port, decision: decision.decision, rule, reason, resolved });
}

/** Lines about the proxy itself (listening, policy loaded, stopping), told apart by `event`. */
export function eventLine(event: string, fields: Record<string, unknown> = {}, now: Date = new Date()): string {
  return JSON.stringify({ ts: now.toISOString(), event, ...fields });
}

/** Request text echoed into logs is the sandbox's to choose; keep it bounded. */
export function clip(text: string, max = 256): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
