// A GitHub push webhook's checks, kept pure: the X-Hub-Signature-256 HMAC over the raw body
// (compared in constant time) and the body's size bound. The payload is trusted for nothing:
// a valid delivery only means "fetch now".
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

export type SignatureCheck = 'valid' | 'unsigned' | 'bad-signature';

/** Checks `header` (`sha256=<hex>`) against HMAC-SHA256(secret, body). */
export function checkSignature(body: Buffer, header: string | undefined, secret: string): SignatureCheck {
  if (header === undefined || header === '') return 'unsigned';
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!m) return 'bad-signature';
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(m[1]!, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? 'valid' : 'bad-signature';
}

export function signBody(body: Buffer | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Reads a body of at most `limit` bytes. A declared Content-Length over the limit is refused
 * before reading; a body that grows past it while streaming is refused at that point.
 */
export async function readBounded(stream: AsyncIterable<Buffer>, declaredLength: number | null, limit = WEBHOOK_BODY_LIMIT): Promise<{ ok: true; body: Buffer } | { ok: false }> {
  if (declaredLength !== null && declaredLength > limit) return { ok: false };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) return { ok: false };
    chunks.push(chunk);
  }
  return { ok: true, body: Buffer.concat(chunks) };
}

/** `127.0.0.1:9419`, `[::1]:9419`, `:9419` is refused (bind only to an address given). */
export function parseListenAddress(raw: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (m[1] ?? m[2])!, port };
}
