import { it } from 'vitest';
import { validateConfigText } from '../../../src/config/index.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';
const cases: Record<string, string> = {
bad: `version: 2
project: My_Proj
enviroments: {}
images:
  a: {ref: x, build: {context: .}}
  b: {}
  c: str
  D: {ref: y}
  auto: {ref: z}
  py:
    build:
      contxt: .
defaults:
  protect: true
  image: pyhton
environments:
  e:
    runtime: runx
    user: dev
    env: {1A: x, OK: null}
    egress: all
    command: 3
    secrets: {s: {fromEnv: A, fromFile: b}, t: {fromEnv: 1x}}
    resources: {memory: 5x, cpus: two, pids: 3}
    idle: {stopAfter: 10y}
    mounts:
      - source: /var/run/docker.sock
        target: /var/run/docker.sock
      - {source: ./data, target: data}
    privileged: true
    allowDangerous: [privileged, bogus]
  f:
    image: python:3.12
    egress: {allow: [pypi.org, "https://github.com/x", "*.github.com", "10.0.0.0/8", "db:5432", "bad_host"]}
    hostNetwork: true
    user: "0"
    workspace: {from: ., git: {url: x}}
    resources: {memory: 1m}
    idle: {stopAfter: 0s}
    command: []
  Agent: {}
  agent: {}
`,
unclosed: 'version: 1\nproject: "abc\nenvironments: {}\n',
indent: 'version: 1\nproject: p\nenvironments:\n  a:\n    image: x\n   runtime: runc\n',
dup: 'version: 1\nproject: p\nproject: q\n',
empty: '',
noenv: 'version: 1\nproject: p\n',
};
it('prints', () => {
  for (const [k, t] of Object.entries(cases)) {
    const r = validateConfigText(t, 'sandboxshift.yaml');
    console.log(`--- ${k}\n` + r.diagnostics.map(formatDiagnostic).join('\n'));
  }
});
