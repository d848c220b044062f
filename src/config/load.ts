// Reading sandboxshift.yaml: YAML with positions, the JSON Schema, the semantic checks, and
// finally the merged Config. Every problem found along the way is returned, none is thrown.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { errorDiag, hasErrors, type Diagnostic } from '../diagnostics.js';
import { buildConfig } from './build-config.js';
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
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { diagnostics: [readFailure(file, error)] };
  }
  return validateConfigText(text, file);
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

function readFailure(file: string, error: unknown): Diagnostic {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return errorDiag(`config file '${file}' does not exist`, {
      file,
      hint: `create ${DEFAULT_CONFIG_FILE} here (see examples/), or pass --config PATH to use another file`,
    });
  }
  if (code === 'EISDIR') {
    return errorDiag(`'${file}' is a folder, not a config file`, { file, hint: `pass --config ${file}/${DEFAULT_CONFIG_FILE}` });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return errorDiag(`cannot read config file '${file}': ${reason}`, { file, hint: 'check that the file exists and is readable' });
}

/** File order, so the first message is the first thing to fix; stable for problems on the same spot. */
function sortByPosition(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}
