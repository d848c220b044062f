import { diffRevisions } from '../../app/diff.js';
import type { ConfigRevision } from '../../config/index.js';
import { DiagnosticsError, errorDiag } from '../../diagnostics.js';
import { hasChanges } from '../../plan/types.js';
import { configPath, parse } from '../args.js';
import { EXIT_CHANGES, EXIT_OK, type Io } from '../io.js';
import { FORMAT_HELP, FORMAT_OPTIONS, planFormat, renderPlan } from '../plan-format.js';

export const diffHelp = `Usage: sandboxshift diff --from REF [--to REF] [options]

Shows what apply would change when the config moves from one git commit to another, with no
Docker engine: the plan is made against the engine as the --from config would have left it
(every environment running, workspaces and images present), so it lists exactly the actions
apply would take. For pull-request comments: --format markdown.

Options:
  --from REF              the commit the engine is taken to be at (e.g. origin/main, HEAD~1)
  --to REF                the commit to compare with (default: the file in the working tree)
  -c, --config FILE       config file, read at the same path in each commit
                          (default: sandboxshift.yaml, or $SANDBOXSHIFT_CONFIG)
${FORMAT_HELP}
  --detailed-exitcode     exit 0 when there are no changes, 2 when there are, 1 on error
  --no-color              plain text

Not compared per commit: build contexts and \`image: auto\` marker files are read from the
working tree for both sides (changes to images: in the config do show), and secret values are
never needed (a secret shows as added, removed, or changed where both values can be read).`;

export async function diffCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('diff', argv, {
    ...FORMAT_OPTIONS,
    from: { type: 'string' },
    to: { type: 'string' },
    'detailed-exitcode': { type: 'boolean' },
  });
  const format = planFormat('diff', values);
  if (positionals.length > 0) {
    throw new DiagnosticsError([errorDiag(`diff: unexpected argument '${positionals[0]}'`, { hint: `name the commits with flags: sandboxshift diff --from ${positionals[0]}` })]);
  }
  if (typeof values.from !== 'string') {
    throw new DiagnosticsError([errorDiag('diff: --from REF is required', { hint: 'e.g. sandboxshift diff --from origin/main (the branch a pull request goes into), or --from HEAD~1' })]);
  }
  const file = configPath(values);
  const to = typeof values.to === 'string' ? values.to : null;
  const { plan, from: before, to: after } = await diffRevisions(file, values.from, to);
  const note = `Changes from ${describe(values.from, before)} to ${to === null ? describeWorkingTree(after) : describe(to, after)}, planned without an engine.`;
  if (format === 'text') io.err(`${note}\n\n`);
  io.out(await renderPlan(plan, format, io.style, { note }));
  return values['detailed-exitcode'] && hasChanges(plan) ? EXIT_CHANGES : EXIT_OK;
}

function describe(ref: string, revision: ConfigRevision): string {
  return revision.commit ? `${ref} (${revision.commit.slice(0, 7)})` : ref;
}

function describeWorkingTree(revision: ConfigRevision): string {
  return revision.commit ? `the working tree (on ${revision.commit.slice(0, 7)})` : 'the working tree';
}
