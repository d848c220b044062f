// `exec`, `shell` and `cp` as the bundled CLI's entry (dist/cli/main.js) starts them: before
// anything else is loaded, from one CommonJS file per command that scripts/bundle-cli.mjs builds
// (dist/bundle/exec-short-path.cjs from exec-short-path.ts, dist/bundle/cp-short-path.cjs from
// cp-short-path.ts). A whole `exec ENV true` or a small `cp` then needs neither the ESM loader
// nor a graph of chunks. null: the short path did nothing (fastExec's and fastCp's contract),
// and the full CLI runs, which does not try it again.
import { failed } from './failed.js';
import { markShortPathTried } from './short-path-mark.js';

export async function runShortPathOf(run: () => Promise<number | null>): Promise<number | null> {
  markShortPathTried();
  try {
    return await run();
  } catch (err) {
    return await failed(err, (await import('./io.js')).processIo(false));
  }
}
