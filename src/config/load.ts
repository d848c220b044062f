// Reading sandboxshift.yaml: YAML with positions, the JSON Schema, the semantic checks, and
// finally the merged Config. Every problem found along the way is returned, none is thrown.

import { dirname, resolve } from 'node:path';
import { errorDiag, hasErrors, type Diagnostic } from '../diagnostics.js';
import { buildConfig } from './build-config.js';
import { MAX_CONFIG_TEXT, readConfigFile, type ConfigFileProblem } from './config-file.js';
import { checkDangerousSettings } from './dangerous-checks.js';
import { formatPath, pointerToPath, type KeyPath } from './key-path.js';
import type { RawConfig } from './raw-config.js';
import { schemaErrors } from './schema.js';
import { describeSchemaErrors } from './schema-errors.js';
import { checkReferencesAndUnits } from './semantic-checks.js';
import { DEFAULT_CONFIG_FILE, type Config } from './types.js';
import { parseYaml } from './yaml-source.js';

export interface LoadResult {
  /** Present only when there are no errors (warnings are fine). */
  config?: Config;
  /** Errors and warnings, sorted by position. */
  diagnostics: Diagnostic[];
}

/** Reads and checks a config file. `file` is shown in diagnostics as given. */
export function loadConfig(file: string = DEFAULT_CONFIG_FILE): LoadResult {
  const read = readConfigFile(file);
  if (read.problem) return { diagnostics: [configFileDiagnostic(file, read.problem)] };
  return validateConfigText(read.text, file);
}

/** The checks of loadConfig on text already in memory; `file` names it in diagnostics and anchors relative paths. */
export function validateConfigText(text: string, file: string): LoadResult {
  const parsed = parseYaml(text, file);
  const { source, data } = parsed;
  const diagnostics = [...parsed.diagnostics];
  if (parsed.broken) return { diagnostics: sortByPosition(diagnostics) };
  if (data === undefined || data === null) {
    if (!hasErrors(diagnostics)) {
      diagnostics.push(errorDiag('the config file is empty', { file, line: 1, col: 1, hint: 'start with `version: 1`, `project: NAME` and an `environments:` map' }));
    }
    return { diagnostics: sortByPosition(diagnostics) };
  }

  const errors = schemaErrors(data);
  const schemaDiagnostics = describeSchemaErrors(errors, data, source);
  const flaggedPaths = new Set(errors.map((e) => formatPath(pointerToPath(e.instancePath, data))));
  diagnostics.push(...schemaDiagnostics);
  checkReferencesAndUnits(data, {
    source,
    flagged: (path: KeyPath) => flaggedPaths.has(formatPath(path)),
    report: (d) => diagnostics.push(d),
  });
  diagnostics.push(...checkDangerousSettings(data, source));

  const sorted = sortByPosition(diagnostics);
  if (hasErrors(sorted)) return { diagnostics: sorted };
  const absolute = resolve(file);
  const config = buildConfig(data as RawConfig, { file: absolute, dir: dirname(absolute), source: text });
  return { config, diagnostics: sorted };
}

/** Why the config file `file` (as diagnostics name it) cannot be used, with what to do. */
export function configFileDiagnostic(file: string, problem: ConfigFileProblem): Diagnostic {
  switch (problem.kind) {
    case 'missing':
      return errorDiag(`config file '${file}' does not exist`, {
        file,
        hint: `create ${DEFAULT_CONFIG_FILE} here (see examples/), or pass --config PATH to use another file`,
      });
    case 'folder':
      return errorDiag(`'${file}' is a folder, not a config file`, { file, hint: `pass --config ${file}/${DEFAULT_CONFIG_FILE}` });
    case 'not-a-file':
      return errorDiag(`config file '${file}' is ${problem.what}, not a regular file; the config is read from a regular file of at most ${MAX_CONFIG_TEXT}`, {
        file,
        hint: `pass --config with the path of a ${DEFAULT_CONFIG_FILE} file (a symlink to one is fine)`,
      });
    case 'too-large':
      return errorDiag(`config file '${file}' is larger than ${MAX_CONFIG_TEXT}${problem.size === null ? '' : ` (${problem.size} bytes)`}, the limit for a config file`, {
        file,
        hint: `a ${DEFAULT_CONFIG_FILE} of 1,000 environments is well under 1 MiB: check that --config names the right file`,
      });
    case 'not-utf8':
      return errorDiag(`the config file must be UTF-8: invalid byte${problem.bytes.includes(' ') ? 's' : ''} ${problem.bytes} at byte offset ${problem.offset}`, {
        file,
        line: problem.line,
        col: problem.col,
        hint: 'save it as UTF-8 (e.g. `iconv -f LATIN1 -t UTF-8`); binary data belongs in a secret read with fromFile, not in the config',
      });
    case 'unreadable': {
      const { error } = problem;
      const reason = error instanceof Error ? error.message : String(error);
      return errorDiag(`cannot read config file '${file}': ${reason}`, { file, hint: 'check that the file exists and is readable' });
    }
  }
}

/** File order, so the first message is the first thing to fix; stable for problems on the same spot. */
function sortByPosition(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}
