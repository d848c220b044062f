// The short path's entry for `cp` (short-path.ts), its own file so an exec does not load the
// copy code, nor a copy the exec code.
import { fastCp } from './cp-fast.js';
import { runShortPathOf } from './short-path.js';

export function runShortPath(argv: string[]): Promise<number | null> {
  const [name, ...rest] = argv;
  if (name !== 'cp') return Promise.resolve(null);
  return runShortPathOf(() => fastCp(rest));
}
