import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';
import { clearPolicy, setPolicy, showPolicy } from '../../app/policy-admin.js';
import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { connectEngine } from '../../engine/client.js';
import { unlockEngine } from '../../app/policy.js';
import { formatPolicyChange } from '../../policy/diff.js';
import type { StoredPolicy } from '../../policy/types.js';
import { parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';

export const policyHelp = `Usage: sandboxshift policy set FILE
       sandboxshift policy show [--json]
       sandboxshift policy clear
       sandboxshift policy unlock LOCK_ID

The engine's policy: rules every project on this engine must keep (allowed images, required
runtime, ceilings per environment, per project and for the whole engine, egress limits,
permitted allowDangerous values, required idle). It is stored in the engine, so every runner,
CI job and watcher using the engine reads the same. A project's config cannot loosen it:
validate (with an engine), plan, apply and watch report every violation at its line in
sandboxshift.yaml, and nothing is applied.

  set FILE   check FILE (YAML or JSON, schemas/policy.schema.json) and make it the policy;
             prints what changes. Replaces the old policy atomically.
  show       the policy in force, who set it and when (--json: machine-readable)
  clear      remove the policy
  unlock ID  remove the engine-wide lock (ss._engine.lock) a run that is gone left behind; the
             ID is in the error of the apply that waited for it. Only the lock with that ID.

Only the engine's administrators should change it, but the engine cannot tell: anyone who can
reach its API (the socket is root on the engine's host) can. The record names who set it.`;

export async function policyCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('policy', argv, { json: { type: 'boolean' } });
  const [action, file, extra] = positionals;
  const usage = (message: string) => new DiagnosticsError([errorDiag(message, { hint: 'see `sandboxshift policy --help`' })]);
  if (extra !== undefined || (action !== 'set' && action !== 'unlock' && file !== undefined)) throw usage(`policy: unexpected argument '${extra ?? file}'`);
  const engine = connectEngine();
  if (action === 'set') {
    if (!file) throw usage('policy set needs the policy file: sandboxshift policy set FILE');
    const outcome = await setPolicy(engine, file);
    if (!outcome.written) {
      io.out(`The engine's policy is already ${file} (sha256 ${outcome.current?.hash.slice(0, 12)}); nothing changed.\n`);
      return EXIT_OK;
    }
    io.out(outcome.previous ? `Policy changes (from the one ${outcome.previous.setBy} set at ${outcome.previous.setAt}):\n` : 'Policy set where there was none:\n');
    for (const c of outcome.changes) io.out(`  ${formatPolicyChange(c)}\n`);
    io.out(io.style.green(`Policy set by ${outcome.current?.setBy} at ${outcome.current?.setAt} (sha256 ${outcome.current?.hash.slice(0, 12)}).\n`));
    return EXIT_OK;
  }
  if (action === 'show') {
    const stored = await showPolicy(engine);
    if (values.json) io.out(`${JSON.stringify(stored ? showJson(stored) : { policy: null }, null, 2)}\n`);
    else if (!stored) io.out('No policy is set on this engine.\n');
    else io.out(`Engine policy, set by ${stored.setBy} at ${stored.setAt} (sha256 ${stored.hash.slice(0, 12)}):\n\n${yaml().stringify(JSON.parse(stored.document))}`);
    return EXIT_OK;
  }
  if (action === 'clear') {
    const { previous } = await clearPolicy(engine);
    io.out(previous ? `Policy cleared (it was set by ${previous.setBy} at ${previous.setAt}).\n` : 'No policy is set on this engine; nothing to clear.\n');
    return EXIT_OK;
  }
  if (action === 'unlock') {
    if (!file) throw usage('policy unlock needs the lock ID: sandboxshift policy unlock ID');
    const outcome = await unlockEngine(engine, file);
    if (outcome === 'released') {
      io.out(`Engine-wide lock ${file} removed.\n`);
      return EXIT_OK;
    }
    throw new DiagnosticsError([errorDiag(outcome === 'not-held' ? 'the engine-wide lock is not held; nothing to unlock' : `the engine-wide lock has another ID than ${file}; left as it is`)]);
  }
  throw usage(action === undefined ? 'policy needs an action: set FILE, show, clear or unlock ID' : `policy: unknown action '${action}' (set FILE, show, clear or unlock ID)`);
}

function showJson(stored: StoredPolicy): Record<string, unknown> {
  return { policy: JSON.parse(stored.document), hash: stored.hash, setBy: stored.setBy, setAt: stored.setAt, generation: stored.generation };
}

const yaml = (): typeof YamlModule => createRequire(import.meta.url)('yaml') as typeof YamlModule;
