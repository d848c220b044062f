// Copies a folder into a new workspace volume through the engine API (a remote engine works):
// a tar stream with every entry owned by the environment's user, unpacked at /workspace of the
// created, not yet started, container.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { pack, type Pack } from 'tar-stream';
import { WORKSPACE_PATH } from '../model/names.js';
import type { Docker } from './client.js';

export async function seedWorkspace(docker: Docker, containerId: string, dir: string, uid: number, gid: number): Promise<number> {
  const p = pack();
  const count = addTree(p, dir, '', uid, gid);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  await docker.getContainer(containerId).putArchive(Buffer.concat(chunks), { path: WORKSPACE_PATH });
  return count;
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
