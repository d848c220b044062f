// `sandboxshift images build [NAME]`: build the config's images whose context changed, without
// touching any environment. The same image changes `apply` would make.
import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { assemblePlan } from '../../plan/plan.js';
import { planImage } from '../../plan/images.js';
import type { Change } from '../../plan/types.js';
import { applyEventLine, applySummary } from '../../render/index.js';
import { applyPlan, connectEngine, loadAndObserve } from '../../workflow.js';
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
  const engine = connectEngine();
  const { loaded, observed } = await loadAndObserve(engine, configPath(values), { needSecrets: false });
  const images = [...loaded.desired.images.values()].filter((i) => i.build && (!name || i.name === name));
  if (name && images.length === 0) {
    const known = [...loaded.desired.images.values()].filter((i) => i.build).map((i) => i.name);
    throw new DiagnosticsError([errorDiag(`images build: no built image named '${name}'`, { hint: `images with a build: ${known.join(', ') || '(none)'}` })]);
  }
  const users = [...loaded.desired.environments.values()];
  const changes = images
    .map((i) => planImage(loaded.desired.project, i, observed, users.filter((d) => d.imageName === i.name)))
    .filter((c): c is Change => c !== null);
  for (const i of images) if (!changes.some((c) => c.name === i.name)) io.out(`image.${i.name}: up to date (${i.ref})\n`);
  if (changes.length === 0) return EXIT_OK;
  const plan = assemblePlan(loaded.desired, observed, 'normal', changes, [], []);
  const result = await applyPlan(engine, loaded, plan, {
    onEvent: (e) => {
      const line = applyEventLine(e, io.style);
      if (line) io.out(`${line}\n`);
    },
  });
  io.out(`\n${applySummary(result, 'normal', io.style).replace('Apply', 'Build')}`);
  return result.failed.length ? EXIT_ERROR : EXIT_OK;
}
