// Builds an image from its context through the engine API (works on a remote engine). The
// build stream becomes progress lines ("Step 3/7 : RUN ..."), not a wall of text; a failure
// names the step it failed at.
import { canonicalJson } from '../model/hash.js';
import { contextRead, type DesiredImage } from '../model/images.js';
import { listContextFiles } from '../model/build-context.js';
import { VERSION } from '../version.js';
import type { Docker } from './client.js';
import { Labels } from './labels.js';

/** Labels hold at most this much of the per-file hashes (enough to name changed files). */
const MAX_FILES_LABEL = 16 * 1024;

interface BuildEvent {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

export async function buildImage(docker: Docker, project: string, image: DesiredImage, onProgress: (line: string) => void): Promise<string> {
  const b = image.build;
  if (!b) throw new Error(`internal: ${image.address} is not built`);
  if (!contextRead(b)) throw new Error(`internal: ${image.address} was resolved without reading its build context`);
  const files = canonicalJson(b.digest.files);
  const labels: Record<string, string> = {
    [Labels.project]: project,
    [Labels.image]: image.name,
    [Labels.contextHash]: b.digest.hash,
    [Labels.version]: VERSION,
    ...(files.length <= MAX_FILES_LABEL ? { [Labels.contextFiles]: files } : {}),
  };
  const stream = await docker.buildImage({ context: b.context, src: listContextFiles(b.context) }, { t: image.ref, dockerfile: b.dockerfile, buildargs: b.args, labels, rm: true, forcerm: true });
  let step = 'before the first step';
  let imageId = '';
  // The step's own output, kept only to explain a failure.
  let tail: string[] = [];
  const failure = (message: string) => new Error(`build failed at ${step}: ${message.trim()}${tail.length ? `\n  last output of the step:\n    ${tail.join('\n    ')}` : ''}`);
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(failure(err.message)) : resolve()),
      (event: BuildEvent) => {
        const line = event.stream?.trim();
        if (line && /^Step \d+\/\d+ :/.test(line)) {
          tail = [];
          step = line.length > 120 ? `${line.slice(0, 117)}...` : line;
          // Our own labels are appended as LABEL steps by the engine; they are not the user's.
          if (!/^Step \d+\/\d+ : LABEL io\.sandboxshift\./.test(line)) onProgress(step);
        } else if (line && !line.startsWith('--->')) tail = [...tail, ...line.split('\n')].slice(-8);
        const id = /^Successfully built ([0-9a-f]+)/.exec(line ?? '')?.[1] ?? event.aux?.ID;
        if (id) imageId = id;
        if (event.error) reject(failure(event.errorDetail?.message ?? event.error));
      },
    );
  });
  return imageId;
}
