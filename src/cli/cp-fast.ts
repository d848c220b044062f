// `cp` on its short path (src/app/copy-fast.ts), tried before the command's full code is loaded.
// null when the full command must run: options it does not read (help, colour, `--`, anything
// parse() might refuse), not two arguments, or quickCopy's own null.
import { quickCopy } from '../app/copy-fast.js';
import { configPath } from './config-arg.js';
import { printCopyReport } from './cp-report.js';
import { EXIT_OK } from './io.js';

export interface CpArgs {
  config?: string;
  json: boolean;
  source: string;
  destination: string;
}

/** cp's argv as parse() would read it, or null for anything but the plain forms. */
export function quickCpArgs(argv: readonly string[]): CpArgs | null {
  let config: string | undefined;
  let json = false;
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--json') {
      json = true;
    } else if (a === '-c' || a === '--config' || a.startsWith('--config=')) {
      const value = a.startsWith('--config=') ? a.slice('--config='.length) : argv[++i];
      if (value === undefined || value === '' || value.startsWith('-')) return null;
      config = value;
    } else if (a.startsWith('-')) {
      return null;
    } else {
      positionals.push(a);
    }
  }
  if (positionals.length !== 2) return null;
  return { ...(config === undefined ? {} : { config }), json, source: positionals[0]!, destination: positionals[1]! };
}

export async function fastCp(argv: string[]): Promise<number | null> {
  const args = quickCpArgs(argv);
  if (!args) return null;
  const report = await quickCopy({ configPath: configPath(args), source: args.source, destination: args.destination });
  if (!report) return null;
  printCopyReport(report, args.json, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
  return EXIT_OK;
}
