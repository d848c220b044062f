// A container's log output as text: without a TTY the engine multiplexes stdout and stderr in
// frames, which dockerode's demuxStream takes apart (in the order written).
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Docker } from './client.js';

export async function demuxedLogs(docker: Docker, buf: Buffer): Promise<string> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  const source = Readable.from([buf]);
  docker.modem.demuxStream(source, sink, sink);
  await finished(source);
  return Buffer.concat(chunks).toString('utf8');
}
