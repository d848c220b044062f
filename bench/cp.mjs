// cp figures (npm run bench runs this; BENCH_ONLY=cp for this section alone): a 200 MB file
// copied into an environment's /workspace and back out with `sandboxshift cp`, whole process,
// paired run by run with `docker cp` of the same file to and from the same container (the
// order within a pair alternates). Reports MB/s per run and median/min/max, the ratio of our
// speed to docker cp's (target >= 0.8), and the peak RSS of `sandboxshift cp` (GNU time's
// %M, when /usr/bin/time exists), which shows the file is streamed, not held in memory.
// Env: BENCH_CP_RUNS (default 7), BENCH_CP_MB (default 200: MiB, so 209.7 MB; rates are in MB/s).
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandEnv, commandEnvNote } from './command-env.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const WORK = fileURLToPath(new URL('./work/', import.meta.url));
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stats = (xs) => ({ median: Number(median(xs).toFixed(1)), min: Number(Math.min(...xs).toFixed(1)), max: Number(Math.max(...xs).toFixed(1)) });

function timed(cmd, args, cwd) {
  const withTime = TIME ? [TIME, ['-f', 'maxrss_kb=%M', cmd, ...args]] : [cmd, args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(withTime[0], withTime[1], { cwd, encoding: 'utf8', env: commandEnv() });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr}`);
  const rss = /maxrss_kb=(\d+)/.exec(r.stderr ?? '');
  return { ms, rssMb: rss ? Number(rss[1]) / 1024 : null };
}

function bigFile(path, mb) {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < mb; i++) writeSync(fd, randomFillSync(chunk));
  closeSync(fd);
}

export async function benchCp({ purge }) {
  const runs = Number(process.env.BENCH_CP_RUNS ?? 7);
  const mb = Number(process.env.BENCH_CP_MB ?? 200);
  const name = `bench-cp-${process.pid}`;
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, 'cp-'));
  writeFileSync(
    join(dir, 'sandboxshift.yaml'),
    `version: 1\nproject: ${name}\nimages:\n  busybox: { ref: sandboxshift/busybox:test }\nenvironments:\n  dev:\n    image: busybox\n    resources: { cpus: 0.5, memory: 64m, pids: 32 }\n`,
  );
  try {
    timed(process.execPath, [CLI, 'apply', '--auto-approve'], dir);
    const container = `ss.${name}.dev`;
    const src = join(dir, 'big.bin');
    bigFile(src, mb);
    const bytes = statSync(src).size;
    const mbps = (ms) => bytes / 1e6 / (ms / 1000);
    const ours = { in: [], out: [], rssMb: [] };
    const theirs = { in: [], out: [] };
    const steps = {
      oursIn: () => {
        const r = timed(process.execPath, [CLI, 'cp', src, 'dev:big.bin'], dir);
        ours.in.push(mbps(r.ms));
        if (r.rssMb !== null) ours.rssMb.push(r.rssMb);
      },
      dockerIn: () => theirs.in.push(mbps(timed('docker', ['cp', src, `${container}:/workspace/big-docker.bin`], dir).ms)),
      oursOut: () => {
        rmSync(join(dir, 'out.bin'), { force: true });
        const r = timed(process.execPath, [CLI, 'cp', 'dev:big.bin', join(dir, 'out.bin')], dir);
        if (statSync(join(dir, 'out.bin')).size !== bytes) throw new Error('sandboxshift cp out: wrong size');
        ours.out.push(mbps(r.ms));
        if (r.rssMb !== null) ours.rssMb.push(r.rssMb);
      },
      dockerOut: () => {
        rmSync(join(dir, 'out-docker.bin'), { force: true });
        theirs.out.push(mbps(timed('docker', ['cp', `${container}:/workspace/big-docker.bin`, join(dir, 'out-docker.bin')], dir).ms));
      },
    };
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? ['oursIn', 'dockerIn', 'oursOut', 'dockerOut'] : ['dockerIn', 'oursIn', 'dockerOut', 'oursOut'];
      for (const s of order) steps[s]();
    }
    const ratio = (a, b) => Number((median(a) / median(b)).toFixed(2));
    const direction = (d) => ({
      sandboxshift: stats(ours[d]),
      docker_cp: stats(theirs[d]),
      ratio: ratio(ours[d], theirs[d]),
      per_run: ours[d].map((x) => Number(x.toFixed(1))),
      per_run_docker: theirs[d].map((x) => Number(x.toFixed(1))),
    });
    return {
      file_bytes: bytes,
      runs,
      in_mb_s: direction('in'),
      out_mb_s: direction('out'),
      peak_rss_mb: ours.rssMb.length ? stats(ours.rssMb) : null,
      target_ratio: 0.8,
      command_env: commandEnvNote(),
    };
  } finally {
    await purge(name);
    rmSync(dir, { recursive: true, force: true });
  }
}
