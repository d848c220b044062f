import { loadConfig } from '../../config/index.js';
import { DiagnosticsError, hasErrors, type Diagnostic } from '../../diagnostics.js';
import { configPath, parse } from '../args.js';
import { EXIT_ERROR, EXIT_OK, printDiagnostics, type Io } from '../io.js';

export const validateHelp = `Usage: sandboxshift validate [--config FILE] [--no-engine]

Checks sandboxshift.yaml against the schema and the semantic rules. Every problem is reported
as FILE:LINE:COL with the key path and a hint. When an engine answers (within 3 seconds), the
config is also checked against the engine's policy (sandboxshift policy show); --no-engine
skips that. Exit 1 on any error.`;

/** How long validate waits for an engine before it says the policy was not checked. */
const ENGINE_WAIT_MS = 3000;

export async function validateCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse('validate', argv, { 'no-engine': { type: 'boolean' } });
  const file = configPath(values);
  const { config, diagnostics } = loadConfig(file);
  const policy = config && !hasErrors(diagnostics) && !values['no-engine'] ? await policyCheck(file) : { diagnostics: [], note: null };
  const all = [...diagnostics, ...policy.diagnostics];
  printDiagnostics(io, all);
  if (!config || hasErrors(all)) {
    const n = all.filter((d) => d.severity === 'error').length;
    io.err(`${n} error${n === 1 ? '' : 's'} in ${file}\n`);
    return EXIT_ERROR;
  }
  if (policy.note) io.err(`${policy.note}\n`);
  const envs = Object.keys(config.environments).length;
  io.out(io.style.green(`Success! ${file} is valid (${envs} environment${envs === 1 ? '' : 's'}).\n`));
  return EXIT_OK;
}

/** The engine's policy violations, or a note saying why the policy was not checked. */
async function policyCheck(file: string): Promise<{ diagnostics: Diagnostic[]; note: string | null }> {
  // Loaded only when the config is valid: validate stays fast and needs no engine code otherwise.
  const { connectEngine, load } = await import('../../app/pipeline.js');
  const { policyViolations, readPolicy } = await import('../../app/policy.js');
  const engine = connectEngine();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ENGINE_WAIT_MS)));
  try {
    const stored = await Promise.race([readPolicy(engine), timeout]);
    if (stored === 'timeout') return { diagnostics: [], note: `note: the engine's policy was not checked: no engine answered within ${ENGINE_WAIT_MS / 1000}s` };
    if (!stored) return { diagnostics: [], note: null };
    const loaded = load(file, { needSecrets: false, readBuildContexts: false });
    return { diagnostics: await policyViolations(engine, loaded, stored), note: null };
  } catch (err) {
    const reason = err instanceof DiagnosticsError ? (err.diagnostics[0]?.message ?? err.message) : err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { diagnostics: [], note: `note: the engine's policy was not checked: ${reason}` };
  } finally {
    clearTimeout(timer);
  }
}
