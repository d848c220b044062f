import { loadConfig } from '../../config/index.js';
import { hasErrors } from '../../diagnostics.js';
import { configPath, parse } from '../args.js';
import { EXIT_ERROR, EXIT_OK, printDiagnostics, type Io } from '../io.js';

export const validateHelp = `Usage: sandboxshift validate [--config FILE]

Checks sandboxshift.yaml against the schema and the semantic rules. Every problem is reported
as FILE:LINE:COL with the key path and a hint. Needs no engine. Exit 1 on any error.`;

export async function validateCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse('validate', argv, {});
  const file = configPath(values);
  const { config, diagnostics } = loadConfig(file);
  printDiagnostics(io, diagnostics);
  if (!config || hasErrors(diagnostics)) {
    const n = diagnostics.filter((d) => d.severity === 'error').length;
    io.err(`${n} error${n === 1 ? '' : 's'} in ${file}\n`);
    return EXIT_ERROR;
  }
  const envs = Object.keys(config.environments).length;
  io.out(io.style.green(`Success! ${file} is valid (${envs} environment${envs === 1 ? '' : 's'}).\n`));
  return EXIT_OK;
}
