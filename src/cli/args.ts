// Flag parsing with node:util parseArgs (no dependency, fast start); usage errors are diagnostics.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  config: { type: 'string', short: 'c' },
  'no-color': { type: 'boolean' },
  'no-tui': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

export function parse(command: string, argv: string[], options: Options): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new DiagnosticsError([
      errorDiag(`${command}: ${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}`, {
        hint: `see \`sandboxshift ${command} --help\``,
      }),
    ]);
  }
}

export { configArgs, configPath } from './config-arg.js';

export function positiveInt(command: string, flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = /^\s*[0-9]+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new DiagnosticsError([errorDiag(`${command}: --${flag} must be a whole number of at least 1, got '${raw}'`, { hint: `e.g. --${flag} 4` })]);
  }
  return n;
}

/** A count that may be 0 (e.g. `--tail 0`); undefined when the flag is absent. */
export function nonNegativeInt(command: string, flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\s*[0-9]+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new DiagnosticsError([errorDiag(`${command}: --${flag} must be a whole number (0 or more), got '${raw}'`, { hint: `e.g. --${flag} 100` })]);
  }
  return n;
}

export function strings(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

export const REFRESH_HELP = `  --refresh MODE          list (default): check what the engine's list call shows (network,
                          mounts, image); full: also inspect every environment container
                          (user, capabilities, privileged, security options, runtime, limits)`;

export function refreshMode(command: string, raw: unknown): 'list' | 'full' {
  if (raw === undefined || raw === 'list') return 'list';
  if (raw === 'full') return 'full';
  throw new DiagnosticsError([
    errorDiag(`${command}: --refresh must be 'list' or 'full', got '${typeof raw === 'string' ? raw : JSON.stringify(raw)}'`, {
      hint: `use --refresh=full to inspect every environment container for settings changed outside sandboxshift`,
    }),
  ]);
}
