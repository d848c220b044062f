// destroy of N environments (default 40), paired round by round against peers that stop the
// same kind of containers with the same graceful stop (SIGTERM, then SIGKILL after 10 s):
//  - the raw docker CLI: `docker stop -t 10 ID && docker rm ID`, --parallelism at a time;
//  - docker-compose 1.x `down -t 10` at its own default parallelism (64), when docker-compose is
//    installed (apt-get install docker-compose; at 40 services with COMPOSE_PARALLEL_LIMIT=8 it
//    deadlocks, so its default is what is measured).
// Each round creates the environments afresh (sandboxshift apply, or `docker-compose up -d` for
// compose), then times the removal only, whole process.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandEnv } from './command-env.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const WORK = fileURLToPath(new URL('./work/', import.meta.url));
const GRACE = 10;

export const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};
const round1 = (x) => Math.round(x * 10) / 10;

function timed(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''}):\n${r.stderr ?? ''}\n${(r.stdout ?? '').slice(-1500)}`);
  return ms;
}

const ssEnv = commandEnv();
const sandboxshift = (dir, args) => timed(process.execPath, [CLI, ...args], { cwd: dir, env: ssEnv });

function configText(project, count) {
  const envs = Array.from({ length: count }, (_, i) => `  env-${String(i).padStart(4, '0')}: {}`).join('\n');
  return `version: 1\nproject: ${project}\nimages:\n  busybox: { ref: sandboxshift/busybox:test }\ndefaults:\n  image: busybox\n  resources: { cpus: 0.1, memory: 16m, pids: 16 }\nenvironments:\n${envs}\n`;
}

/** The same container settings sandboxshift gives an environment (tini, no network, no capabilities). */
function composeText(count) {
  const services = Array.from({ length: count }, (_, i) => {
    const name = `env-${String(i).padStart(4, '0')}`;
    return `  ${name}:
    image: sandboxshift/busybox:test
    init: true
    network_mode: none
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    user: "65532:65532"
    restart: unless-stopped
    cpus: 0.1
    mem_limit: 16m
    pids_limit: 16
    volumes: ["${name}-workspace:/workspace"]`;
  });
  const volumes = Array.from({ length: count }, (_, i) => `  env-${String(i).padStart(4, '0')}-workspace: {}`);
  return `version: "2.4"\nservices:\n${services.join('\n')}\nvolumes:\n${volumes.join('\n')}\n`;
}

function workDir(name) {
  mkdirSync(WORK, { recursive: true });
  return mkdtempSync(join(WORK, `${name}-`));
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err}`))));
  });
}

/** The raw docker CLI at the same parallelism: stop (same grace), then remove, per container. */
async function rawDestroy(project, parallelism) {
  const ids = spawnSync('docker', ['ps', '-aq', '--filter', `label=io.sandboxshift.project=${project}`, '--filter', 'label=io.sandboxshift.role=environment'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean);
  const t0 = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      await run('docker', ['stop', '-t', String(GRACE), id]);
      await run('docker', ['rm', id]);
    }
  };
  await Promise.all(Array.from({ length: parallelism }, worker));
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, removed: ids.length };
}

const hasCompose = () => spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' }).status === 0;

export async function benchDestroy({ count = 40, parallelism = 8, rounds = 3, purge }) {
  const name = 'bench-destroy';
  const composeName = 'bench-destroy-compose';
  const compose = hasCompose();
  const rows = [];
  for (let round = 0; round < rounds; round++) {
    await purge(name);
    const dir = workDir(name);
    writeFileSync(join(dir, 'sandboxshift.yaml'), configText(name, count));
    const row = { round: round + 1 };
    // Peer and sandboxshift take turns going first, so a drift of the machine's speed cancels.
    const ours = () => {
      sandboxshift(dir, ['apply', '--auto-approve', '--parallelism', String(parallelism)]);
      row.sandboxshift_ms = Math.round(sandboxshift(dir, ['destroy', '--auto-approve', '--parallelism', String(parallelism)]));
    };
    const raw = async () => {
      sandboxshift(dir, ['apply', '--auto-approve', '--parallelism', String(parallelism)]);
      const r = await rawDestroy(name, parallelism);
      if (r.removed !== count) throw new Error(`raw docker peer found ${r.removed} containers, not ${count}`);
      row.docker_cli_ms = Math.round(r.ms);
    };
    if (round % 2 === 0) {
      ours();
      await raw();
    } else {
      await raw();
      ours();
    }
    if (compose) {
      const cdir = workDir(composeName);
      writeFileSync(join(cdir, 'docker-compose.yml'), composeText(count));
      const args = ['-p', composeName, '-f', join(cdir, 'docker-compose.yml')];
      timed('docker-compose', [...args, 'up', '-d'], { cwd: cdir });
      row.compose_down_ms = Math.round(timed('docker-compose', [...args, 'down', '-t', String(GRACE)], { cwd: cdir }));
      // Volumes stay in a timed down, as in sandboxshift destroy; dropped afterwards.
      timed('docker-compose', [...args, 'down', '-v'], { cwd: cdir });
      rmSync(cdir, { recursive: true, force: true });
    }
    await purge(name);
    rmSync(dir, { recursive: true, force: true });
    rows.push(row);
    console.log('destroy round', JSON.stringify(row));
  }
  const summary = (key) => {
    const s = stats(rows.map((r) => r[key]));
    return { median_s: round1(s.median / 1000), min_s: round1(s.min / 1000), max_s: round1(s.max / 1000) };
  };
  const ratio = (peer) => {
    const s = stats(rows.map((r) => r.sandboxshift_ms / r[peer]));
    return { median: +s.median.toFixed(2), min: +s.min.toFixed(2), max: +s.max.toFixed(2) };
  };
  return {
    environments: count,
    parallelism,
    grace_s: GRACE,
    rounds: rows,
    sandboxshift: summary('sandboxshift_ms'),
    docker_cli: summary('docker_cli_ms'),
    ratio_vs_docker_cli: ratio('docker_cli_ms'),
    ...(compose ? { compose_down: summary('compose_down_ms'), ratio_vs_compose_down: ratio('compose_down_ms') } : { compose_down: 'docker-compose not installed: peer left out' }),
    target: 'ratio <= 1 against compose down',
  };
}
