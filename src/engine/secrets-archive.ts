// Secrets reach the container as a tar stream through the engine API (no host bind mount, so a
// remote engine works): /run/secrets (0500) and one file per secret (0400), owned by the
// environment's user. With every capability dropped, not even root inside can read them.
import { pack } from 'tar-stream';

export async function secretsArchive(secrets: ReadonlyArray<{ name: string; value: Buffer }>, uid: number, gid: number): Promise<Buffer> {
  const p = pack();
  const mtime = new Date(0);
  p.entry({ name: 'run/secrets/', type: 'directory', mode: 0o500, uid, gid, mtime });
  for (const { name, value } of secrets) {
    p.entry({ name: `run/secrets/${name}`, type: 'file', mode: 0o400, uid, gid, mtime, size: value.length }, value);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
