// `sandboxshift images build [NAME]`: build the config's images whose context changed, without
// touching any environment. The same image changes `apply` would make.
import { buildImages } from '../../app/images.js';
import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { connectEngine } from '../../engine/client.js';
import { applyEventLine, applySummary } from '../../render/index.js';
import { configPath, parse } from '../args.js';
import { EXIT_ERROR, EXIT_OK, type Io } from '../io.js';

export const imagesHelp = `Usage: sandboxshift images build [NAME] [--config FILE]

Builds the images declared with images.NAME.build (and the shipped runtimes that image: auto
picks) whose build context changed since their last build. Environments are not touched; the
next apply replaces the ones on a rebuilt image, keeping /workspace.`;

export async function imagesCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('images', argv, {});
  const [verb, name] = positionals;
  if (verb !== 'build') {
    throw new DiagnosticsError([errorDiag(`images: unknown subcommand '${verb ?? ''}'`, { hint: 'use `sandboxshift images build [NAME]`' })]);
  }
  const { upToDate, result } = await buildImages(connectEngine(), configPath(values), name, (e) => {
    const line = applyEventLine(e, io.style);
    if (line) io.out(`${line}\n`);
  });
  for (const i of upToDate) io.out(`image.${i.name}: up to date (${i.ref})\n`);
  if (!result) return EXIT_OK;
  io.out(`\n${applySummary(result, 'normal', io.style).replace('Apply', 'Build')}`);
  return result.failed.length + result.skipped.length ? EXIT_ERROR : EXIT_OK;
}
