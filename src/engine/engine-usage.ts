// What every project on the engine uses, for the policy's engine-wide ceilings: one list call
// over every environment container (running or not: a stopped one starts again on wake).
// Resources are read from the label written at creation (an in-place update since then is not
// seen: the label is not rewritten).
import type { EngineUsage } from '../policy/check.js';
import { Labels } from './labels.js';
import type { ContainerLister } from './records.js';

export interface ProjectUse {
  environments: number;
  cpus: number;
  memoryBytes: number;
}

/** Each project's use, by project name. */
export async function engineUsageByProject(docker: ContainerLister): Promise<Map<string, ProjectUse>> {
  const found = await docker.listContainers({ all: true, filters: { label: [`${Labels.role}=environment`] } });
  const byProject = new Map<string, ProjectUse>();
  for (const c of found) {
    const project = c.Labels?.[Labels.project];
    if (project === undefined) continue;
    const use = byProject.get(project) ?? { environments: 0, cpus: 0, memoryBytes: 0 };
    byProject.set(project, use);
    use.environments++;
    try {
      const r = JSON.parse(c.Labels?.[Labels.resources] ?? '{}') as { cpus?: unknown; memoryBytes?: unknown };
      if (typeof r.cpus === 'number' && Number.isFinite(r.cpus)) use.cpus += r.cpus;
      if (typeof r.memoryBytes === 'number' && Number.isFinite(r.memoryBytes)) use.memoryBytes += r.memoryBytes;
    } catch {
      // A label we cannot read counts as an environment with no known size.
    }
  }
  return byProject;
}

/** The use of every project but `except`. */
export function usageOfOthers(byProject: ReadonlyMap<string, ProjectUse>, except: string): EngineUsage {
  const usage: EngineUsage = { projects: 0, environments: 0, cpus: 0, memoryBytes: 0 };
  for (const [project, use] of byProject) {
    if (project === except) continue;
    usage.projects++;
    usage.environments += use.environments;
    usage.cpus += use.cpus;
    usage.memoryBytes += use.memoryBytes;
  }
  return usage;
}
