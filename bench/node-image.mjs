// The image the egress benches run their Node clients, servers and Node proxy peers in: Debian's
// Node.js on the local Debian base. The egress proxy's own image has no Node (it is one Go
// binary), so the benches build this one once (`sandboxshift/bench-node:1`, kept for the next run).
import { spawnSync } from 'node:child_process';

export const BENCH_NODE_IMAGE = 'sandboxshift/bench-node:1';

const DOCKERFILE = `FROM debian:bookworm-slim
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*
`;

export function benchNodeImage() {
  if (spawnSync('docker', ['image', 'inspect', BENCH_NODE_IMAGE], { stdio: 'ignore' }).status === 0) return BENCH_NODE_IMAGE;
  const built = spawnSync('docker', ['build', '-q', '-t', BENCH_NODE_IMAGE, '-'], { input: DOCKERFILE, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`could not build ${BENCH_NODE_IMAGE} (Debian's nodejs on debian:bookworm-slim): ${built.stderr}`);
  return BENCH_NODE_IMAGE;
}
