// BENCH_ONLY=policy: what the engine's policy adds to `plan` at N environments (default 1,000).
// Measured in process, on observed state built from the desired state (a no-op plan, as if all
// N environments existed): creating 1,000 containers and setting an engine-wide policy on the
// shared engine would refuse every other project's apply.
// each run times plan(desired, observed), then the policy check (50 rules, none violated: subject,
// checkPolicy, diagnostics); the figure is the check's median over the plan's median.
// The policy's engine reads (the policy record; every project's use, for engine-wide ceilings)
// run while the config loads and the engine is observed; they are timed on their own against
// the engine (one label-filtered list call each).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../dist/config/index.js';
import { resolveDesired } from '../dist/model/resolve.js';
import { observedFromDesired, plan } from '../dist/plan/index.js';
import { checkPolicy } from '../dist/policy/check.js';
import { policyDiagnostics } from '../dist/policy/diagnostics.js';
import { parsePolicyText } from '../dist/policy/parse.js';
import { policySubject } from '../dist/policy/subject.js';
import { readEnginePolicy } from '../dist/engine/engine-policy.js';
import { engineUsageByProject, usageOfOthers } from '../dist/engine/engine-usage.js';

/** 50 rules: 40 image patterns, 5 denied hosts, runtime, three ceilings per environment. */
export const POLICY_50 = `version: 1
images: { allow: [${Array.from({ length: 39 }, (_, i) => `"team-${i}/**"`).join(', ')}, "sandboxshift/*"] }
egress: { deny: ["*.corp.example", "169.254.169.254", "10.0.0.0/8", "metadata.internal", "*.svc.cluster.local"], maxEntries: 50 }
runtime: runc
environment: { cpus: 1, memory: 1g, pids: 1024 }
project: { environments: 2000, cpus: 1000, memory: 1t }
engine: { environments: 100000, cpus: 10000, memory: 10t }
allowDangerous: []
idle: { maxStopAfter: 8h }
`;

function configText(count) {
  const envs = Array.from({ length: count }, (_, i) => `  env-${String(i).padStart(4, '0')}: {}`).join('\n');
  return `version: 1\nproject: bench-policy\nimages:\n  busybox: { ref: sandboxshift/busybox:test }\ndefaults:\n  image: busybox\n  resources: { cpus: 0.1, memory: 16m, pids: 16 }\n  idle: { stopAfter: 2h }\nenvironments:\n${envs}\n`;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

export async function benchPolicy({ docker, count = Number(process.env.BENCH_ENVS ?? 1000), runs = Number(process.env.BENCH_RUNS ?? 21) } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ss-bench-policy-'));
  try {
    const file = join(dir, 'sandboxshift.yaml');
    writeFileSync(file, configText(count));
    const { config, diagnostics } = loadConfig(file);
    if (!config) throw new Error(diagnostics.map((d) => d.message).join('\n'));
    const { desired } = resolveDesired(config, { secretsOptional: true });
    const observed = observedFromDesired(desired, { images: ['sandboxshift/busybox:test'], runtimes: ['runc'] });
    const { policy } = parsePolicyText(POLICY_50, 'policy.yaml');
    const others = { projects: 3, environments: 30, cpus: 3, memoryBytes: 1 << 30 };
    const planTimes = [];
    const checkTimes = [];
    let noop = true;
    // Warm-up rounds first (JIT), then the plan and the check timed one after the other, each run.
    for (let i = 0; i < runs + 5; i++) {
      let t0 = process.hrtime.bigint();
      const p = plan(desired, observed);
      const tp = ms(t0);
      t0 = process.hrtime.bigint();
      const violations = checkPolicy(policy, policySubject(config, desired), others);
      const diags = policyDiagnostics(violations, config.source, 'sandboxshift.yaml');
      const tc = ms(t0);
      if (violations.length || diags.length) throw new Error(`the bench policy is violated: ${violations[0]?.message}`);
      noop &&= p.changes.every((c) => c.steps.length === 0);
      if (i >= 5) {
        planTimes.push(tp);
        checkTimes.push(tc);
      }
    }
    const a = median(planTimes);
    const c = median(checkTimes);
    const reads = { policyRecordMs: [], usageListMs: [] };
    if (docker) {
      for (let i = 0; i < 5; i++) {
        let t0 = process.hrtime.bigint();
        await readEnginePolicy(docker);
        reads.policyRecordMs.push(ms(t0));
        t0 = process.hrtime.bigint();
        const byProject = await engineUsageByProject(docker);
        reads.listed = [...byProject.values()].reduce((n, u) => n + u.environments, 0);
        usageOfOthers(byProject, 'bench-policy');
        reads.usageListMs.push(ms(t0));
      }
    }
    return {
      environments: count,
      runs,
      noopPlan: noop,
      planMs: Math.round(a * 10) / 10,
      policyCheckMs: Math.round(c * 100) / 100,
      overheadPercent: Math.round((c / a) * 1000) / 10,
      engineReads: docker ? { policyRecordMs: Math.round(median(reads.policyRecordMs)), usageListMs: Math.round(median(reads.usageListMs)), environmentsListed: reads.listed } : null,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
