// The environment every timed command of the bench runs in (ours, docker's, `node -e 0`).
// A machine may set NODE_EXTRA_CA_CERTS to its whole CA bundle (this one does: ~140
// certificates). Node parses that file at every start, before any code of ours runs: on this
// machine `node -e 0` took about 90 ms with it and 30 ms without. The docker CLI and other Go
// tools never read it, and Node does not set it by default, so the bench leaves it out of every
// command it times; BENCH_KEEP_NODE_EXTRA_CA_CERTS=1 keeps it (every Node figure then includes
// that parse). The result says which was the case.
const DROPPED = process.env.BENCH_KEEP_NODE_EXTRA_CA_CERTS === '1' ? [] : ['NODE_EXTRA_CA_CERTS'];

/** process.env without the dropped variables, with CI=true, NO_COLOR=1 and `extra` on top. */
export function commandEnv(extra = {}) {
  const env = { ...process.env, CI: 'true', NO_COLOR: '1', ...extra };
  for (const name of DROPPED) delete env[name];
  return env;
}

/** What the timed commands ran with, for the report. */
export function commandEnvNote() {
  const set = process.env.NODE_EXTRA_CA_CERTS !== undefined;
  if (!set) return 'NODE_EXTRA_CA_CERTS not set';
  return DROPPED.length ? 'NODE_EXTRA_CA_CERTS set here, left out of timed commands' : 'NODE_EXTRA_CA_CERTS set here and kept (BENCH_KEEP_NODE_EXTRA_CA_CERTS=1)';
}
