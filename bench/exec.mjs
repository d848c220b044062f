// exec round trip (npm run bench runs this; BENCH_ONLY=exec alone): the whole process of
// `sandboxshift exec ENV true` against `docker exec CONTAINER true` on the same container,
// paired run by run (their order alternating, so neither always follows the other), BENCH_EXEC_RUNS
// pairs (default 21) after a warm-up of each. Reported as median/min/max and the ratio of the
// medians (target: within 1.3x), with `node -e 0` (Node's start-up), `node bench/exec-floor.cjs`
// (docker exec's engine calls from Node with no code of ours: the floor under any Node CLI, and
// its ratio to docker exec), `docker --version` (the docker CLI's own start, no engine call: what
// `docker exec` spends outside the engine) and the load average, since the machine may be shared.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandEnv, commandEnvNote } from './command-env.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const FLOOR = fileURLToPath(new URL('./exec-floor.cjs', import.meta.url));
const WORK = fileURLToPath(new URL('./work/', import.meta.url));

function timed(command, args, cwd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: commandEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median_ms: Math.round(s[Math.floor(s.length / 2)]), min_ms: Math.round(s[0]), max_ms: Math.round(s[s.length - 1]) };
};

export async function benchExec({ runs = Number(process.env.BENCH_EXEC_RUNS ?? 21) } = {}) {
  const name = `bench-exec-${process.pid}`;
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, `${name}-`));
  writeFileSync(
    join(dir, 'sandboxshift.yaml'),
    `version: 1\nproject: ${name}\nimages:\n  busybox: { ref: sandboxshift/busybox:test }\nenvironments:\n  dev:\n    image: busybox\n    resources: { cpus: 0.5, memory: 32m, pids: 32 }\n`,
  );
  const container = `ss.${name}.dev`;
  try {
    timed(process.execPath, [CLI, 'apply', '--auto-approve'], dir);
    const ours = () => timed(process.execPath, [CLI, 'exec', 'dev', 'true'], dir);
    const theirs = () => timed('docker', ['exec', container, 'true'], dir);
    // Node's own start-up, the floor under any command of ours.
    const node = () => timed(process.execPath, ['-e', '0'], dir);
    const floor = () => timed(process.execPath, [FLOOR, container, 'true'], dir);
    const dockerStart = () => timed('docker', ['--version'], dir);
    ours();
    theirs();
    floor();
    const nodeStart = [];
    const nodeFloor = [];
    const dockerCliStart = [];
    const load = [loadavg()[0]];
    const sandboxshift = [];
    const docker = [];
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        sandboxshift.push(ours());
        docker.push(theirs());
        nodeFloor.push(floor());
        nodeStart.push(node());
        dockerCliStart.push(dockerStart());
      } else {
        dockerCliStart.push(dockerStart());
        nodeStart.push(node());
        nodeFloor.push(floor());
        docker.push(theirs());
        sandboxshift.push(ours());
      }
    }
    load.push(loadavg()[0]);
    const a = stats(sandboxshift);
    const b = stats(docker);
    const f = stats(nodeFloor);
    return {
      runs,
      sandboxshift_exec: a,
      docker_exec: b,
      node_floor_exec: f,
      floor_ratio: Number((f.median_ms / b.median_ms).toFixed(2)),
      node_e_0: stats(nodeStart),
      docker_version_flag: stats(dockerCliStart),
      ratio: Number((a.median_ms / b.median_ms).toFixed(2)),
      target_ratio: 1.3,
      command_env: commandEnvNote(),
      load_average_1m: load.map((l) => Number(l.toFixed(2))),
    };
  } finally {
    spawnSync(process.execPath, [CLI, 'destroy', '--auto-approve', '--purge-volumes'], { cwd: dir, env: commandEnv(), stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log('exec round trip', JSON.stringify(await benchExec(), null, 2));
