// What every project on the engine uses, for the policy's engine-wide ceilings: one list call
// over every environment container (running or not: a stopped one starts again on wake).
// Resources are read from the label written at creation (an in-place update since then is not
// seen: the label is not rewritten).
import type { EngineUsage } from '../policy/check.js';
import type { Docker } from './client.js';
import { Labels } from './labels.js';

/** The use of every project but `except`. */
export async function engineUsage(docker: Docker, except: string): Promise<EngineUsage> {
  const found = await docker.listContainers({ all: true, filters: { label: [`${Labels.role}=environment`] } });
  const projects = new Set<string>();
  const usage: EngineUsage = { projects: 0, environments: 0, cpus: 0, memoryBytes: 0 };
  for (const c of found) {
    const project = c.Labels?.[Labels.project];
    if (project === undefined || project === except) continue;
    projects.add(project);
    usage.environments++;
    try {
      const r = JSON.parse(c.Labels?.[Labels.resources] ?? '{}') as { cpus?: unknown; memoryBytes?: unknown };
      if (typeof r.cpus === 'number' && Number.isFinite(r.cpus)) usage.cpus += r.cpus;
      if (typeof r.memoryBytes === 'number' && Number.isFinite(r.memoryBytes)) usage.memoryBytes += r.memoryBytes;
    } catch {
      // A label we cannot read counts as an environment with no known size.
    }
  }
  usage.projects = projects.size;
  return usage;
}
