// `watch --listen ADDR`: one HTTP listener, bound only to the address given:
// - POST /webhook: a GitHub push delivery, signed with the webhook secret; a valid one makes the
//   git trigger fetch at once. Unsigned or wrongly signed: 401; over the size bound: 413. Bodies
//   are never logged.
// - GET /healthz: 200 "ok" while the loop runs and the engine answers; 503 otherwise.
// - GET /metrics: Prometheus text (prom-client).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { WatchLog } from './log.js';
import { metricsRegistry, watchMetrics } from './metrics.js';
import { checkSignature, readBounded, WEBHOOK_BODY_LIMIT } from './webhook.js';

export interface ListenerOptions {
  host: string;
  port: number;
  secret: string;
  log: WatchLog;
  /** A valid delivery: fetch now. */
  onPush: (delivery: string) => void;
  /** null when healthy, or why not (the engine unreachable, the loop stopped). */
  unhealthy: () => Promise<string | null>;
  bodyLimit?: number;
}

export class WatchListener {
  private server: Server | null = null;

  constructor(private readonly options: ListenerOptions) {}

  async start(): Promise<{ host: string; port: number }> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.options.log.line('listen-error', `listener: ${(err as Error).message}`);
        if (!res.headersSent) send(res, 500, 'internal error\n');
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    return typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host: this.options.host, port: this.options.port };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/webhook') {
      if (req.method !== 'POST') return send(res, 405, 'POST only\n', { Allow: 'POST' });
      return this.webhook(req, res);
    }
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      const why = await this.options.unhealthy();
      return why === null ? send(res, 200, 'ok\n') : send(res, 503, `unhealthy: ${why}\n`);
    }
    if (path === '/metrics' && req.method === 'GET') {
      const text = await metricsRegistry.metrics();
      return send(res, 200, text, { 'Content-Type': metricsRegistry.contentType });
    }
    send(res, 404, 'not found: POST /webhook, GET /healthz, GET /metrics\n');
  }

  private async webhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { log } = this.options;
    const limit = this.options.bodyLimit ?? WEBHOOK_BODY_LIMIT;
    const delivery = headerOf(req, 'x-github-delivery')?.slice(0, 64) ?? '-';
    const declared = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length']);
    const read = await readBounded(req, Number.isFinite(declared) ? declared : null, limit);
    if (!read.ok) {
      watchMetrics.webhooks.inc({ result: 'too-large' });
      log.line('webhook-refused', `webhook refused: body over ${limit} bytes (delivery ${delivery})`, { status: 413, delivery });
      send(res, 413, `body over ${limit} bytes\n`);
      discard(req, limit * 8);
      return;
    }
    const check = checkSignature(read.body, headerOf(req, 'x-hub-signature-256'), this.options.secret);
    if (check !== 'valid') {
      watchMetrics.webhooks.inc({ result: check });
      const why = check === 'unsigned' ? 'no X-Hub-Signature-256 header' : 'X-Hub-Signature-256 does not match the webhook secret';
      log.line('webhook-refused', `webhook refused: ${why} (delivery ${delivery}, ${read.body.length} bytes)`, { status: 401, delivery, reason: check });
      return send(res, 401, `${why}\n`);
    }
    watchMetrics.webhooks.inc({ result: 'accepted' });
    const event = headerOf(req, 'x-github-event') ?? '-';
    log.line('webhook', `webhook: ${event} delivery ${delivery} signed: fetching now`, { delivery, event });
    send(res, 202, 'fetching\n');
    this.options.onPush(delivery);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Lets the client finish sending what it declared (so it reads the 413, not a reset), up to `cap` bytes. */
function discard(req: IncomingMessage, cap: number): void {
  if (req.readableEnded || req.destroyed) return;
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > cap) req.destroy();
  });
  req.resume();
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}
