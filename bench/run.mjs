// npm run bench: the figures behind our speed targets, measured on the real engine
// (sections: --version start-up, apply throughput, destroy against docker and compose (destroy.mjs),
// egress proxy overhead, runc vs runsc create time, cp against docker cp (cp.mjs), plan at 1,000 environments).
//  1. whole-process `sandboxshift plan` with no changes at N environments (target < 450 ms at
//     1,000), paired with `docker ps` of the same containers and `node -e 0`
//  2. apply throughput for 50 new environments, as a ratio to raw parallel create+start through
//     dockerode with the same parallelism on the same engine (target >= 0.85)
// Env: BENCH_ENVS (default 1000), BENCH_APPLY_ENVS (default 50), BENCH_RUNS (default 5).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { containerCreateOptions } from '../dist/engine/index.js';
import { loadConfig } from '../dist/config/index.js';
import { resolveDesired } from '../dist/model/resolve.js';
import { benchEgress, benchRuntimes } from './egress.mjs';
import { benchDestroy } from './destroy.mjs';
import { benchWatch } from './watch.mjs';
import { benchIdle } from './idle.mjs';
import { benchCp } from './cp.mjs';
import { benchExec } from './exec.mjs';
import { benchPolicy } from './policy.mjs';
import { benchPolicyPlan } from './policy-plan.mjs';
import { commandEnv, commandEnvNote } from './command-env.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const docker = new Docker();
const N = Number(process.env.BENCH_ENVS ?? 1000);
const APPLY_N = Number(process.env.BENCH_APPLY_ENVS ?? 50);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PARALLELISM = 8;

function configText(project, count) {
  const envs = Array.from({ length: count }, (_, i) => `  env-${String(i).padStart(4, '0')}: {}`).join('\n');
  return `version: 1\nproject: ${project}\nimages:\n  busybox: { ref: sandboxshift/busybox:test }\ndefaults:\n  image: busybox\n  resources: { cpus: 0.1, memory: 16m, pids: 16 }\nenvironments:\n${envs}\n`;
}

function cli(dir, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env: commandEnv(), maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ...r, ms };
}

// Work folders live under bench/work/ (git-ignored), not in a shared temp folder.
const WORK = fileURLToPath(new URL('./work/', import.meta.url));

function project(name, count) {
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, `${name}-`));
  writeFileSync(join(dir, 'sandboxshift.yaml'), configText(name, count));
  return dir;
}

async function purge(name) {
  const filters = { label: [`io.sandboxshift.project=${name}`] };
  const cs = await docker.listContainers({ all: true, filters });
  for (let i = 0; i < cs.length; i += 16) await Promise.all(cs.slice(i, i + 16).map((c) => docker.getContainer(c.Id).remove({ force: true })));
  const vs = (await docker.listVolumes({ filters })).Volumes ?? [];
  for (let i = 0; i < vs.length; i += 16) await Promise.all(vs.slice(i, i + 16).map((v) => docker.getVolume(v.Name).remove()));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const must = (r, what) => {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''}):\n${r.stderr ?? ''}\n${(r.stdout ?? '').slice(-2000)}`);
  return r;
};

/** Whole-process wall time of a command, in ms. */
function wall(cmd, args, opts) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { ...r, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

const figures = (xs) => ({ median: Math.round(median(xs)), min: Math.round(Math.min(...xs)), max: Math.round(Math.max(...xs)) });

/**
 * No-op `plan` at N environments, whole process, paired run by run (A B A B ...) with two
 * peers: the docker CLI listing the same containers (`docker ps -a` with the same label
 * filter: a Go binary's start plus the engine's list, the floor for looking at the engine at
 * all) and `node -e 0` (Node's own start). The first plan fills the config cache and is not
 * counted. BENCH_PLAN_PROJECT names the project (default bench-plan); one already applied with
 * the same config is reused, and BENCH_KEEP=1 leaves it for the next run.
 */
async function benchPlan() {
  const name = process.env.BENCH_PLAN_PROJECT ?? 'bench-plan';
  mkdirSync(WORK, { recursive: true });
  const dir = join(WORK, `${name}-${N}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'sandboxshift.yaml'), configText(name, N));
  let applyMs = null;
  if (cli(dir, ['plan', '--detailed-exitcode']).status !== 0) {
    await purge(name);
    console.log(`plan: applying ${N} environments first (this takes a while)...`);
    applyMs = Math.round(must(cli(dir, ['apply', '--auto-approve', '--parallelism', String(PARALLELISM)]), 'apply').ms);
    console.log(`plan: apply of ${N} took ${(applyMs / 1000).toFixed(1)} s`);
  }
  const env = commandEnv();
  const rows = [];
  for (let i = 0; i < RUNS; i++) {
    const r = must(wall(process.execPath, [CLI, 'plan', '--detailed-exitcode'], { cwd: dir, env }), 'plan');
    if (!r.stdout.includes(`No changes. ${N} environments`)) throw new Error(`plan was not empty:\n${r.stdout.slice(0, 2000)}`);
    const ps = must(wall('docker', ['ps', '-a', '--no-trunc', '--filter', `label=io.sandboxshift.project=${name}`], { env }), 'docker ps');
    if (ps.stdout.trim().split('\n').length !== N + 1) throw new Error(`docker ps listed ${ps.stdout.trim().split('\n').length - 1} containers, not ${N}`);
    const node = must(wall(process.execPath, ['-e', '0'], { env }), 'node -e 0');
    rows.push({ plan: r.ms, docker_ps: ps.ms, node: node.ms });
  }
  if (process.env.BENCH_KEEP !== '1') {
    must(cli(dir, ['destroy', '--auto-approve', '--purge-volumes', '--parallelism', String(PARALLELISM)]), 'destroy');
    rmSync(dir, { recursive: true, force: true });
  }
  const ratio = (peer) => {
    const rs = rows.map((x) => x.plan / x[peer]);
    return { median: +median(rs).toFixed(2), min: +Math.min(...rs).toFixed(2), max: +Math.max(...rs).toFixed(2) };
  };
  return {
    environments: N,
    runs: RUNS,
    plan_ms: figures(rows.map((x) => x.plan)),
    docker_ps_ms: figures(rows.map((x) => x.docker_ps)),
    node_e0_ms: figures(rows.map((x) => x.node)),
    ratio_vs_docker_ps: ratio('docker_ps'),
    ratio_vs_node_e0: ratio('node'),
    ...(applyMs === null ? {} : { apply_all_ms: applyMs }),
    target_ms: 450,
  };
}

async function rawCreateStart(name, count) {
  const { config } = loadConfig(join(project(name, count), 'sandboxshift.yaml'));
  const { desired } = resolveDesired(config);
  const envs = [...desired.environments.values()];
  const t0 = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < envs.length) {
      const d = envs[next++];
      const c = await docker.createContainer(containerCreateOptions(name, d));
      await c.start();
    }
  };
  await Promise.all(Array.from({ length: PARALLELISM }, worker));
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function benchApply() {
  const rawName = 'bench-raw';
  const ssName = 'bench-apply';
  const rounds = [];
  for (let round = 0; round < 3; round++) {
    await purge(rawName);
    await purge(ssName);
    const rawMs = await rawCreateStart(rawName, APPLY_N);
    await purge(rawName);
    const dir = project(ssName, APPLY_N);
    const r = must(cli(dir, ['apply', '--auto-approve', '--parallelism', String(PARALLELISM)]), 'apply');
    await purge(ssName);
    rmSync(dir, { recursive: true, force: true });
    rounds.push({ raw_ms: Math.round(rawMs), sandboxshift_ms: Math.round(r.ms), ratio: +(rawMs / r.ms).toFixed(3) });
  }
  const ratio = median(rounds.map((x) => x.ratio));
  return { environments: APPLY_N, parallelism: PARALLELISM, rounds, ratio_median: ratio, target_ratio: 0.85 };
}

function benchVersion() {
  const times = [];
  for (let i = 0; i < 10; i++) times.push(must(cli(process.cwd(), ['--version']), '--version').ms);
  return { version_ms_median: Math.round(median(times)), target_ms: 150 };
}

// BENCH_ONLY=version,apply,plan,destroy,egress,runtimes,watch,idle,cp,exec,policy,policy-plan picks sections (default: all).
const only = new Set((process.env.BENCH_ONLY ?? 'version,apply,plan,destroy,egress,runtimes,watch,idle,cp,exec,policy,policy-plan').split(','));
const results = { at: new Date().toISOString(), engine: (await docker.version()).Version, command_env: commandEnvNote() };
if (only.has('version')) {
  results.version = benchVersion();
  console.log('sandboxshift --version', results.version);
}
if (only.has('apply')) {
  results.apply = await benchApply();
  console.log('apply throughput', JSON.stringify(results.apply));
}
if (only.has('destroy')) {
  results.destroy = await benchDestroy({ count: Number(process.env.BENCH_DESTROY_ENVS ?? 40), parallelism: PARALLELISM, rounds: Number(process.env.BENCH_DESTROY_ROUNDS ?? 3), purge });
  console.log('destroy', JSON.stringify(results.destroy));
}
if (only.has('egress')) {
  results.egress = await benchEgress();
  console.log('egress proxy overhead', JSON.stringify(results.egress));
}
if (only.has('runtimes')) {
  results.runtimes = await benchRuntimes();
  console.log('create time runc vs runsc', JSON.stringify(results.runtimes));
}
if (only.has('watch')) {
  results.watch = await benchWatch({ purge });
  console.log('watch: config edit and git push (webhook) to converged', JSON.stringify(results.watch));
}
if (only.has('idle')) {
  results.idle = await benchIdle({ docker, purge });
  console.log('idle policies', JSON.stringify(results.idle));
}
if (only.has('cp')) {
  results.cp = await benchCp({ purge });
  console.log('cp of a 200 MB file in and out, against docker cp', JSON.stringify(results.cp));
}
if (only.has('exec')) {
  results.exec = await benchExec();
  console.log('exec round trip vs docker exec', JSON.stringify(results.exec));
}
if (only.has('policy')) {
  results.policy = await benchPolicy({ docker });
  console.log('plan with a policy of 50 rules (in process)', JSON.stringify(results.policy));
}
if (only.has('policy-plan')) {
  results.policyPlan = await benchPolicyPlan();
  console.log('whole-process plan with and without a policy of 50 rules', JSON.stringify(results.policyPlan));
}
if (only.has('plan')) {
  results.plan = await benchPlan();
  console.log('plan with no changes', JSON.stringify(results.plan));
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`./results/bench-${Date.now()}.json`, import.meta.url), JSON.stringify(results, null, 2));
console.log(JSON.stringify(results, null, 2));
