// `exec` and `shell` as the bundled CLI's entry (dist/cli/main.js) starts them: before anything
// else is loaded, from one CommonJS file that scripts/bundle-cli.mjs builds from this module
// (dist/bundle/exec-short-path.cjs). A whole `exec ENV true` then needs neither the ESM loader
// nor a graph of chunks: 97.7 ms against 107.1 through the ES module entry (31 paired runs). null: the short path did nothing (fastExec's
// contract), and the full CLI runs, which does not try it again.
import { fastExec } from './exec-fast.js';
import { failed } from './failed.js';
import { markExecShortPathTried } from './short-path-mark.js';

export async function runExecShortPath(argv: string[]): Promise<number | null> {
  const [name, ...rest] = argv;
  if (name !== 'exec' && name !== 'shell') return null;
  markExecShortPathTried();
  try {
    return await fastExec(name, rest);
  } catch (err) {
    return await failed(err, (await import('./io.js')).processIo(false));
  }
}
