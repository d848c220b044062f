// BENCH_ONLY=policy-plan: the whole `sandboxshift plan` at N environments (default 1,000) on the
// real engine, with and without the engine policy of 50 rules (POLICY_50, engine-wide ceilings
// included, so every project's use is listed too), run by run: clear → plan → set → plan.
// Sets a policy on the engine it runs against: run it where no other project applies meanwhile.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { POLICY_50 } from './policy.mjs';
import { commandEnv } from './command-env.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const WORK = fileURLToPath(new URL('./work/', import.meta.url));

function run(dir, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env: commandEnv() });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ...r, ms };
}

function must(r, what, codes = [0]) {
  if (!codes.includes(r.status)) throw new Error(`${what} failed (${r.status}): ${r.stderr}\n${(r.stdout ?? '').slice(-1500)}`);
  return r;
}

function spread(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median: Math.round(median), min: Math.round(s[0]), max: Math.round(s[s.length - 1]) };
}

export async function benchPolicyPlan({ count = Number(process.env.BENCH_ENVS ?? 1000), runs = Number(process.env.BENCH_RUNS ?? 11), parallelism = 8 } = {}) {
  mkdirSync(WORK, { recursive: true });
  const dir = join(WORK, `bench-policy-plan-${count}`);
  mkdirSync(dir, { recursive: true });
  const envs = Array.from({ length: count }, (_, i) => `  env-${String(i).padStart(4, '0')}: {}`).join('\n');
  writeFileSync(
    join(dir, 'sandboxshift.yaml'),
    `version: 1\nproject: bench-policy-plan\nimages:\n  busybox: { ref: sandboxshift/busybox:test }\ndefaults:\n  image: busybox\n  resources: { cpus: 0.1, memory: 16m, pids: 16 }\n  idle: { stopAfter: 2h }\nenvironments:\n${envs}\n`,
  );
  writeFileSync(join(dir, 'policy.yaml'), POLICY_50);
  must(run(dir, ['policy', 'clear']), 'policy clear');
  if (run(dir, ['plan', '--detailed-exitcode']).status !== 0) {
    console.log(`policy-plan: applying ${count} environments first (this takes a while)...`);
    must(run(dir, ['apply', '--auto-approve', '--parallelism', String(parallelism)]), 'apply');
  }
  const rows = [];
  try {
    for (let i = 0; i < runs + 1; i++) {
      must(run(dir, ['policy', 'clear']), 'policy clear');
      const without = must(run(dir, ['plan', '--detailed-exitcode']), 'plan without a policy');
      must(run(dir, ['policy', 'set', 'policy.yaml']), 'policy set');
      const withPolicy = must(run(dir, ['plan', '--detailed-exitcode']), 'plan with the policy');
      if (!withPolicy.stdout.includes(`No changes. ${count} environments`)) throw new Error(`plan with the policy was not empty:\n${withPolicy.stdout.slice(0, 1500)}`);
      if (i > 0) rows.push({ without: without.ms, with: withPolicy.ms }); // the first pair warms caches
    }
  } finally {
    must(run(dir, ['policy', 'clear']), 'policy clear');
    if (process.env.BENCH_KEEP !== '1') {
      must(run(dir, ['destroy', '--auto-approve', '--purge-volumes', '--parallelism', String(parallelism)]), 'destroy');
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const ratios = rows.map((r) => r.with / r.without);
  const s = [...ratios].sort((a, b) => a - b);
  return {
    environments: count,
    runs: rows.length,
    plan_without_policy_ms: spread(rows.map((r) => r.without)),
    plan_with_policy_ms: spread(rows.map((r) => r.with)),
    ratio: { median: +s[s.length >> 1].toFixed(3), min: +s[0].toFixed(3), max: +s[s.length - 1].toFixed(3) },
    target_ratio: 1.1,
  };
}
