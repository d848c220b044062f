import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { readLock, releaseLock } from '../../engine/index.js';
import { connectEngine, load } from '../../app/pipeline.js';
import { configPath, parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';

export const unlockHelp = `Usage: sandboxshift unlock LOCK_ID [--config FILE]

Removes a stale apply lock left by a run that died. The ID is shown in the "locked" error.
Only the lock with that ID is removed, so a newer run's lock is never taken away. A lock left
on this host by a process that is gone needs no unlock: the next apply or destroy takes it over.
A container under the lock's name that sandboxshift did not make is never removed: rename or
remove it yourself.`;

export async function unlockCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('unlock', argv, {});
  const id = positionals[0];
  if (!id) throw new DiagnosticsError([errorDiag('unlock needs the lock ID', { hint: 'the ID is in the error of the run that found the lock: sandboxshift unlock ID' })]);
  const { project } = load(configPath(values), { needSecrets: false, readBuildContexts: false }).desired;
  const engine = await connectEngine().docker();
  const outcome = await releaseLock(engine, project, id);
  if (outcome === 'released') {
    io.out(`Lock ${id} of project '${project}' removed.\n`);
    return EXIT_OK;
  }
  if (outcome === 'not-held') throw new DiagnosticsError([errorDiag(`project '${project}' is not locked; nothing to unlock`)]);
  const current = await readLock(engine, project);
  if (!current) throw new DiagnosticsError([errorDiag(`project '${project}' is not locked any more; nothing to unlock`)]);
  throw new DiagnosticsError([
    errorDiag(`project '${project}' is locked with ID ${current.id}, not ${id}; left as it is`, {
      hint: `held by ${current.holder} pid ${current.pid} since ${current.since}`,
    }),
  ]);
}
