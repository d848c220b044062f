import { observe, readAppliedCommit, type AppliedCommit } from '../../engine/index.js';
import { shortId } from '../../plan/format.js';
import { connectEngine, load } from '../../app/pipeline.js';
import { configPath, parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';

export const statusHelp = `Usage: sandboxshift status [--json] [--config FILE]

Shows each environment's state on the engine: running, stopped or missing, with its
container, image and workspace volume. Workspace volumes that belong to no environment in
the config (removed or renamed environments) are listed as orphaned. When \`watch --git\` has
applied a commit, it is shown: "at abc1234, applied 2026-12-02 12:03:07Z by watch@host".`;

export interface EnvironmentStatus {
  name: string;
  state: 'running' | 'stopped' | 'missing' | 'paused' | 'not-in-config' | 'orphaned';
  container_id: string | null;
  container_name: string | null;
  image: string | null;
  volume: string | null;
  in_config: boolean;
  /** For an orphaned workspace: what to do about it. */
  note?: string;
}

export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse('status', argv, { json: { type: 'boolean' } });
  const loaded = load(configPath(values), { needSecrets: false });
  const engine = connectEngine();
  const observed = await observe(engine, loaded.desired.project);
  const applied = await readAppliedCommit(await engine.docker(), loaded.desired.project);
  const names = [...new Set([...loaded.desired.environments.keys(), ...observed.containers.keys(), ...observed.volumes.keys()])].sort();
  const movedTo = new Map([...loaded.desired.moved].map(([to, from]) => [from, to]));
  const rows: EnvironmentStatus[] = names.map((name) => {
    const c = observed.containers.get(name);
    const inConfig = loaded.desired.environments.has(name);
    const orphan = !c && !inConfig;
    const state: EnvironmentStatus['state'] = orphan
      ? 'orphaned'
      : !c
        ? 'missing'
        : !inConfig
          ? 'not-in-config'
          : c.state === 'running' || c.state === 'restarting'
            ? 'running'
            : c.state === 'paused'
              ? 'paused'
              : 'stopped';
    return {
      name,
      state,
      container_id: c?.id ?? null,
      container_name: c?.name ?? null,
      image: c?.image ?? loaded.desired.environments.get(name)?.spec.image ?? null,
      volume: observed.volumes.get(name)?.name ?? null,
      in_config: inConfig,
      ...(orphan
        ? {
            note: movedTo.has(name)
              ? `moved to ${movedTo.get(name)}; kept until destroy --purge-volumes --target ${name}`
              : `no environment uses it; add moved: [{ from: ${name}, to: NEW }] to keep its files, or destroy --purge-volumes --target ${name}`,
          }
        : {}),
    };
  });
  if (values.json) {
    io.out(`${JSON.stringify({ format_version: '1.0', project: loaded.desired.project, applied_commit: applied, environments: rows }, null, 2)}\n`);
    return EXIT_OK;
  }
  const table = [['ENVIRONMENT', 'STATE', 'CONTAINER', 'IMAGE', 'VOLUME'], ...rows.map((r) => [r.name, r.state, r.container_id ? shortId(r.container_id) : '-', r.image ?? '-', r.volume ?? '-'])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table)
    io.out(
      `${row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  if (applied) io.out(`\n${describeApplied(applied)}\n`);
  const orphans = rows.filter((r) => r.note);
  if (orphans.length) io.out(`\n${orphans.map((r) => `${r.volume} is orphaned: ${r.note}`).join('\n')}\n`);
  return EXIT_OK;
}

/** `at abc1234, applied 2026-12-02 12:03:07Z by watch@host`. */
export function describeApplied(applied: AppliedCommit): string {
  const at = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(applied.at);
  return `at ${applied.commit.slice(0, 7)}, applied ${at ? `${at[1]} ${at[2]}Z` : applied.at} by ${applied.by}`;
}
