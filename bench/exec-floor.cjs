// The floor under any Node CLI's `exec` (bench/exec.mjs runs it beside ours and docker exec):
// the engine calls `docker exec` makes (inspect the container, create the exec, start it and read
// its stream to the end, inspect the exec for its exit code), on node:net alone, with no code of
// SandboxShift at all. What it costs over `docker exec` is Node's start and exit, and its first
// socket; what ours costs over it is ours.
//   node bench/exec-floor.cjs CONTAINER CMD...
'use strict';
const net = require('node:net');

const socketPath = (process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');

/** One call. HTTP/1.0 for plain ones (the engine closes after the body: no chunked decoding); the exec start is upgraded and read to its end. */
function call(method, path, body, upgrade = false) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const payload = body === undefined ? '' : JSON.stringify(body);
    const headers = upgrade ? 'Connection: Upgrade\r\nUpgrade: tcp\r\n' : '';
    socket.write(`${method} ${path} HTTP/${upgrade ? '1.1' : '1.0'}\r\nHost: docker\r\n${headers}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
    // Nothing to send on the exec's stdin: end our half, as docker exec does without -i.
    if (upgrade) socket.end();
    const parts = [];
    socket.on('data', (d) => parts.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(parts);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(all.subarray(0, 16).toString('latin1'))?.[1] ?? 0);
      if (status >= 300 && status !== 101) return reject(new Error(`${method} ${path}: HTTP ${status}: ${all.toString('utf8')}`));
      const text = all.subarray(all.indexOf('\r\n\r\n') + 4).toString('utf8');
      resolve(upgrade ? null : text ? JSON.parse(text) : null);
    });
  });
}

async function main() {
  const [container, ...cmd] = process.argv.slice(2);
  if (!container || cmd.length === 0) throw new Error('usage: node bench/exec-floor.cjs CONTAINER CMD...');
  const info = await call('GET', `/containers/${encodeURIComponent(container)}/json`);
  const exec = await call('POST', `/containers/${info.Id}/exec`, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
  await call('POST', `/exec/${exec.Id}/start`, { Detach: false, Tty: false }, true);
  for (;;) {
    const state = await call('GET', `/exec/${exec.Id}/json`);
    if (!state.Running) return state.ExitCode;
    await new Promise((r) => setTimeout(r, 5));
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    process.stderr.write(`exec-floor: ${err.message}\n`);
    process.exitCode = 1;
  },
);
