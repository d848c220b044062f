// Copies a folder into a new workspace volume through the engine API (a remote engine works):
// a tar stream with every entry owned by the environment's user, unpacked at /workspace of the
// created, not yet started, container.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { extract, pack, type Pack } from 'tar-stream';
import { WORKSPACE_PATH } from '../model/names.js';
import type { Docker } from './client.js';
import { unlessMissing } from './records.js';
import { Labels } from './labels.js';

export async function seedWorkspace(docker: Docker, containerId: string, dir: string, uid: number, gid: number): Promise<number> {
  const p = pack();
  const count = addTree(p, dir, '', uid, gid);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  await docker.getContainer(containerId).putArchive(Buffer.concat(chunks), { path: WORKSPACE_PATH });
  return count;
}

/**
 * Copies one workspace volume into a new environment's (created, not yet started) container,
 * through the engine's archive API: a helper container that is never started mounts the old
 * volume read-only; its /workspace is streamed as a tar into the new one, modes kept and every
 * entry owned by the new environment's user (as seeding does), so a rename that changes the
 * user leaves a writable workspace. Nothing is held whole in memory.
 */
export async function copyWorkspace(docker: Docker, project: string, fromVolume: string, toContainerId: string, image: string, uid: number, gid: number): Promise<void> {
  const name = copyHelperName(fromVolume);
  await removeCopyHelper(docker, project, fromVolume);
  const helper = await docker.createContainer({
    name,
    Image: image,
    Cmd: ['true'],
    Labels: { [Labels.project]: project, [Labels.role]: 'helper' },
    HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: fromVolume, Target: WORKSPACE_PATH, ReadOnly: true }] },
  });
  try {
    const tar = await helper.getArchive({ path: `${WORKSPACE_PATH}/.` });
    await docker.getContainer(toContainerId).putArchive(reowned(tar, uid, gid), { path: WORKSPACE_PATH });
  } finally {
    await helper.remove({ force: true });
  }
}

function copyHelperName(volume: string): string {
  return `${volume}.copy`;
}

/** The tar stream with every entry owned by uid:gid; entries pass through one at a time. */
function reowned(source: NodeJS.ReadableStream, uid: number, gid: number): NodeJS.ReadableStream {
  const ex = extract();
  const out = pack();
  ex.on('entry', (header, body, next) => {
    const entry = out.entry({ ...header, uid, gid, uname: '', gname: '' }, (err) => (err ? ex.destroy(err) : next()));
    body.pipe(entry);
  });
  ex.on('finish', () => out.finalize());
  ex.on('error', (err) => out.destroy(err));
  source.on('error', (err: Error) => ex.destroy(err));
  source.pipe(ex);
  return out as unknown as NodeJS.ReadableStream;
}

/** A helper left by an interrupted copy of `volume` is removed (it would keep the volume in use), but only if it is ours. */
export async function removeCopyHelper(docker: Docker, project: string, volume: string): Promise<void> {
  const name = copyHelperName(volume);
  const info = await unlessMissing(docker.getContainer(name).inspect());
  if (!info) return;
  const labels = info.Config.Labels ?? {};
  if (labels[Labels.project] !== project || labels[Labels.role] !== 'helper') {
    throw new Error(`a container named ${name} exists that sandboxshift did not create; remove or rename it (docker rm ${name}) and apply again`);
  }
  await unlessMissing(docker.getContainer(info.Id).remove({ force: true }));
}

function addTree(p: Pack, root: string, rel: string, uid: number, gid: number): number {
  let count = 0;
  for (const name of readdirSync(join(root, rel)).sort()) {
    const path = rel ? posix.join(rel, name) : name;
    const abs = join(root, path);
    const st = lstatSync(abs);
    const common = { name: path, uid, gid, mode: st.mode & 0o7777, mtime: st.mtime };
    if (st.isDirectory()) {
      p.entry({ ...common, type: 'directory' });
      count += addTree(p, root, path, uid, gid);
    } else if (st.isSymbolicLink()) {
      p.entry({ ...common, type: 'symlink', linkname: readlinkSync(abs) });
      count++;
    } else if (st.isFile()) {
      p.entry({ ...common, type: 'file', size: st.size }, readFileSync(abs));
      count++;
    }
  }
  return count;
}
