// Facts about an image for the contract check: its USER and contract label from inspect, and
// whether /bin/sh starts and /workspace is a directory its own USER can write, from a
// throwaway container with no network and no capabilities that runs one `test`. Any other
// environment user gets /workspace when its container is created (engine/user-setup.ts).
import type { ImageFacts } from '../model/image-facts.js';
import { statusCode, type Docker } from './client.js';
import { Labels } from './labels.js';
import { cachedProbe, rememberProbe, type ProbeAnswer } from './probe-cache.js';

export async function probeImage(docker: Docker, ref: string): Promise<ImageFacts> {
  const info = await docker.getImage(ref).inspect();
  const probedAs = info.Config?.User ?? '';
  const base = { ref, user: info.Config?.User ?? '', contract: info.Config?.Labels?.[Labels.contract] ?? null, probedAs };
  const key = `${info.Id}|${probedAs}`;
  const known = cachedProbe(key);
  if (known) return { ...base, ...known };
  const answer = await runProbe(docker, ref, probedAs);
  rememberProbe(key, answer);
  return { ...base, ...answer };
}

async function runProbe(docker: Docker, ref: string, probedAs: string): Promise<ProbeAnswer> {
  const container = await docker.createContainer({
    Image: ref,
    Entrypoint: ['/bin/sh'],
    Cmd: ['-c', 'test -d /workspace && test -w /workspace'],
    ...(probedAs ? { User: probedAs } : {}),
    Labels: { [Labels.role]: 'probe' },
    HostConfig: { NetworkMode: 'none', CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'] },
  });
  try {
    try {
      await container.start();
    } catch (err) {
      // The engine refuses to start a missing entrypoint: there is no shell.
      if (/no such file|not found|executable file/i.test(String((err as { json?: { message?: string } }).json?.message ?? err))) {
        return { shell: false, workspaceWritable: false };
      }
      throw err;
    }
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    // 126/127: the shell itself could not run.
    if (StatusCode === 126 || StatusCode === 127) return { shell: false, workspaceWritable: false };
    return { shell: true, workspaceWritable: StatusCode === 0 };
  } finally {
    await container.remove({ force: true }).catch((err: unknown) => {
      if (statusCode(err) !== 404) throw err;
    });
  }
}
