// The whole mission: the pi coding agent (image: pi) in a sandbox whose egress allows only a fake
// OpenAI-compatible model on the suite's own fake internet, its API key a SandboxShift secret.
// The fake model answers with a `write` tool call, then a final text.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeInternet } from '../support/fake-internet.mjs';
import { containerOf, docker, dockerCli, testProject, type TestProject } from './harness.js';

const STAGE = fileURLToPath(new URL('../../images/agent-pi/stage/Dockerfile', import.meta.url));
const KEY = `sk-test-${randomBytes(12).toString('hex')}`;
const MODEL_HOST = 'model.test';

/** The fake model: chat completions over SSE; logs one JSON line per request (the Authorization header hashed). */
const SERVER = `
const http = require('node:http');
const { createHash } = require('node:crypto');
let n = 0;
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    n += 1;
    const parsed = JSON.parse(body || '{}');
    const hasToolResult = (parsed.messages || []).some((m) => m.role === 'tool');
    console.log(JSON.stringify({ n, method: req.method, url: req.url, stream: parsed.stream === true,
      auth: createHash('sha256').update(String(req.headers.authorization || '')).digest('hex'), hasToolResult }));
    const chunk = (delta, finish) => 'data: ' + JSON.stringify({ id: 'c' + n, object: 'chat.completion.chunk', created: 0, model: 'fake-coder',
      choices: [{ index: 0, delta, finish_reason: finish }] }) + '\\n\\n';
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (!hasToolResult) {
      const args = JSON.stringify({ path: 'hello.txt', content: 'written by pi\\n' });
      res.write(chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'write', arguments: args } }] }, null));
      res.write(chunk({}, 'tool_calls'));
    } else {
      res.write(chunk({ role: 'assistant', content: 'Done: wrote hello.txt' }, null));
      res.write(chunk({}, 'stop'));
    }
    res.end('data: [DONE]\\n\\n');
  });
}).listen(80);
`;

const MODELS_JSON = JSON.stringify({
  providers: {
    fake: {
      baseUrl: `http://${MODEL_HOST}/v1`,
      api: 'openai-completions',
      apiKey: 'OPENAI_API_KEY',
      compat: { supportsDeveloperRole: false, supportsReasoningEffort: false },
      models: [{ id: 'fake-coder', reasoning: false, input: ['text'], contextWindow: 32000, maxTokens: 4000 }],
    },
  },
});

describe.each(['runc', 'runsc'])('the pi agent in a sandbox under %s', (runtime) => {
  const tag = `${runtime}-${randomInt(1e6)}`;
  const internet = `ss-e2e-inet-pi-${tag}`;
  const server = `ss-e2e-model-${tag}`;
  let p: TestProject;
  const outputs: string[] = [];

  const config = (marker: string) => `
version: 1
project: {{project}}
environments:
  coder:
    image: pi
    runtime: ${runtime}
    resources: { memory: 1g, pids: 256 }
    env: { MARKER: "${marker}" }
    volumes: { agent: /data/agent }
    egress: { allow: [${MODEL_HOST}] }
    secrets:
      openai_api_key: { fromEnv: FAKE_MODEL_KEY }
  odd:
    image: pi
    runtime: ${runtime}
    user: "43210:43210"
    resources: { memory: 1g, pids: 256 }
    volumes: { agent: /data/agent }
    egress: { allow: [${MODEL_HOST}] }
    secrets:
      openai_api_key: { fromEnv: FAKE_MODEL_KEY }
`;
  const run = async (args: string[]) => {
    const r = await p.run(args, { env: { FAKE_MODEL_KEY: KEY } });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const coder = () => containerOf(p.name, 'coder');
  /** A command as the sandbox's user, through the entrypoint (secrets as variables). */
  const inSandbox = (cmd: string[]) => dockerCli(['exec', coder(), 'sandboxshift-entrypoint', ...cmd], 300_000);

  beforeAll(async () => {
    expect(existsSync(STAGE), 'stage the pi image first: make -C images stage-pi').toBe(true);
    await createFakeInternet(docker, internet, { 'io.sandboxshift.test': '1' });
    p = testProject(`agent-pi-${runtime}`, config('one'));
    const r = await run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const image = (await docker.getContainer(coder()).inspect()).Config.Image;
    const c = await docker.createContainer({
      name: server,
      Image: image,
      User: '65532',
      Entrypoint: ['node', '-e', SERVER],
      HostConfig: { NetworkMode: internet },
      NetworkingConfig: { EndpointsConfig: { [internet]: { Aliases: [MODEL_HOST] } } },
      Labels: { 'io.sandboxshift.test': '1' },
    });
    await c.start();
    for (const env of ['coder', 'odd']) await docker.getNetwork(internet).connect({ Container: `ss.${p.name}.${env}.egress` });
  }, 1_200_000);

  afterAll(async () => {
    await docker
      .getContainer(server)
      .remove({ force: true })
      .catch(() => undefined);
    await p?.cleanup();
    await docker
      .getNetwork(internet)
      .remove()
      .catch(() => undefined);
  });

  it('is pi on a current Node, on the image contract, with its data folder set', async () => {
    const info = await docker.getImage((await docker.getContainer(coder()).inspect()).Config.Image).inspect();
    expect([info.Config.User, info.Config.WorkingDir, info.Config.Labels?.['io.sandboxshift.contract']]).toEqual(['65532:65532', '/workspace', '1']);
    expect(await inSandbox(['sh', '-c', 'find / -xdev -type f -perm /6000 2>/dev/null; for c in pi node npm git rg fd; do command -v $c; done'])).toBe(
      '/usr/local/bin/pi\n/usr/local/bin/node\n/usr/local/bin/npm\n/usr/bin/git\n/usr/bin/rg\n/usr/local/bin/fd\n',
    );
    expect((await inSandbox(['node', '--version'])).trim()).toMatch(/^v2[4-9]\./);
    expect((await inSandbox(['sh', '-c', 'pi --version 2>&1'])).trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await inSandbox(['sh', '-c', 'echo $PI_CODING_AGENT_DIR; id -u; test -n "$OPENAI_API_KEY" && echo key-set'])).split('\n').slice(0, 3)).toEqual(['/data/agent', '65532', 'key-set']);
  });

  // The sandbox has no DNS and no route out: reaching model.test at all is through the proxy.
  it('runs a task through the proxy: the tool call writes the file, the session lands in /data/agent', async () => {
    await dockerCli(['exec', coder(), 'sh', '-c', `printf '%s' '${MODELS_JSON}' > /data/agent/models.json`]);
    // sandboxshift exec: as the environment's user, in /workspace, the secrets as variables.
    const pi = await run(['exec', 'coder', '--', 'pi', '--provider', 'fake', '--model', 'fake-coder', '-p', 'write hello.txt']);
    expect(pi.code, pi.stderr).toBe(0);
    expect(pi.stdout).toBe('Done: wrote hello.txt\n');
    expect(await inSandbox(['cat', '/workspace/hello.txt'])).toBe('written by pi\n');
    const sessions = await inSandbox(['sh', '-c', 'find /data/agent/sessions -name "*.jsonl" | wc -l']);
    expect(Number(sessions.trim())).toBeGreaterThan(0);
    const log = (await dockerCli(['logs', server]))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { url: string; auth: string; hasToolResult: boolean });
    expect(log.map((l) => [l.url, l.hasToolResult])).toEqual([
      ['/v1/chat/completions', false],
      ['/v1/chat/completions', true],
    ]);
    const auth = createHash('sha256').update(`Bearer ${KEY}`).digest('hex');
    expect(log.every((l) => l.auth === auth)).toBe(true);
  }, 600_000);

  it('keeps the file and the session across a replace of the environment', async () => {
    const before = await inSandbox(['sh', '-c', 'cd /data/agent && find . -type f | sort | xargs sha256sum']);
    expect(before).toContain('./models.json');
    expect(before).toMatch(/\.\/sessions\/\S+\.jsonl/);
    p.write(config('two'));
    const plan = await run(['plan']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toContain('coder');
    outputs.push((await run(['plan', '--json'])).stdout);
    const r = await run(['apply', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await inSandbox(['sh', '-c', 'echo $MARKER'])).toBe('two\n');
    expect(await inSandbox(['cat', '/workspace/hello.txt'])).toBe('written by pi\n');
    expect(await inSandbox(['sh', '-c', 'cd /data/agent && find . -type f | sort | xargs sha256sum'])).toBe(before);
  }, 900_000);

  it("gives any Node program's fetch the proxy (NODE_USE_ENV_PROXY), and refuses what the allow list does not name", async () => {
    const fetchIn = (url: string) =>
      inSandbox(['node', '-e', `fetch(${JSON.stringify(url)}).then((r) => console.log('status', r.status), (e) => console.log('failed', String(e.cause?.message ?? e.message)))`]);
    expect(await fetchIn(`http://${MODEL_HOST}/v1/models`)).toBe('status 200\n');
    expect(await fetchIn('http://blocked.test/')).toBe('failed Request was cancelled.\n');
    // The proxy saw it all: pi and Node tunnel (CONNECT) even to http://; the model allowed, the other name refused.
    const egress = await run(['egress', 'coder', '--tail', '50']);
    expect(egress.code, egress.stderr).toBe(0);
    expect(egress.stdout).toMatch(/ allow +CONNECT +model\.test:80 +rule model\.test\n/);
    expect(egress.stdout).toMatch(/ deny +\S+ +blocked\.test:80 +no rule matches blocked\.test\n/);
  });

  it('runs the same task as any user id (43210): files and session belong to it', async () => {
    const odd = containerOf(p.name, 'odd');
    await dockerCli(['exec', odd, 'sh', '-c', `printf '%s' '${MODELS_JSON}' > /data/agent/models.json`]);
    // sandboxshift exec: as the environment's user, in /workspace, the secrets as variables.
    const pi = await run(['exec', 'odd', '--', 'pi', '--provider', 'fake', '--model', 'fake-coder', '-p', 'write hello.txt']);
    expect(pi.code, pi.stderr).toBe(0);
    expect(pi.stdout).toBe('Done: wrote hello.txt\n');
    // node, not stat: this gVisor answers EINVAL to coreutils' statx.
    const script = `cat /workspace/hello.txt; node -p "const s = require('fs').statSync('/workspace/hello.txt'); s.uid + ':' + s.gid"; find /data/agent/sessions -name '*.jsonl' -user 43210 | wc -l`;
    const owners = await dockerCli(['exec', odd, 'sh', '-c', script]);
    expect(owners).toMatch(/^written by pi\n43210:43210\n[1-9]\d*\n$/);
  }, 600_000);

  it('never shows the key: apply, plan, docker inspect, pi, logs', async () => {
    outputs.push(await dockerCli(['inspect', coder()]));
    const logs = await run(['logs', 'coder']);
    outputs.push(logs.stdout, logs.stderr);
    for (const text of outputs) expect(text).not.toContain(KEY);
  });
});
