// The short path's entry for `exec` and `shell` (short-path.ts): 97.7 ms for a whole `exec ENV
// true` against 107.1 through the ES module entry (31 paired runs).
import { fastExec } from './exec-fast.js';
import { runShortPathOf } from './short-path.js';

export function runShortPath(argv: string[]): Promise<number | null> {
  const [name, ...rest] = argv;
  if (name !== 'exec' && name !== 'shell') return Promise.resolve(null);
  return runShortPathOf(() => fastExec(name, rest));
}
