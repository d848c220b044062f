// Golden tests of the Markdown plan (a pull-request comment body), plus its size bound and its
// escaping. Plans come from the literal fixtures through plan() and planToJson(), as the CLI makes them.
import { describe, expect, it } from 'vitest';
import { warningDiag } from '../../../src/diagnostics.js';
import type { DesiredState } from '../../../src/model/desired.js';
import { hashOf } from '../../../src/model/hash.js';
import type { ObservedProxy, ObservedState } from '../../../src/model/observed.js';
import { plan, planDestroy } from '../../../src/plan/index.js';
import { planToJson, renderMarkdown, type JsonPlan } from '../../../src/render/index.js';
import { applied, desiredOf, env, observedOf } from '../plan/fixtures.js';

/** test/fixtures/markdown/NAME.md, relative to this file: `vitest -u` rewrites it (then review the diff). */
const golden = (name: string) => `../../fixtures/markdown/${name}.md`;

const allow = (...list: string[]) => ({ egress: { mode: 'allow' as const, allow: list } });

/** Puts one environment on a built image `app` (as a config with images.app.build resolves). */
function onBuiltImage(desired: DesiredState, envName: string): DesiredState {
  const ref = 'sandboxshift/demo-app:ctx-0123456789ab';
  const images = new Map(desired.images);
  images.set('app', {
    address: 'image.app',
    name: 'app',
    ref,
    build: { context: '/repo/app', dockerfile: 'Dockerfile', args: {}, digest: { hash: `0123456789ab${'0'.repeat(52)}`, files: { Dockerfile: 'aaaa' } }, repo: 'sandboxshift/demo-app' },
    builtin: false,
  });
  const environments = new Map(desired.environments);
  const d = environments.get(envName)!;
  const spec = { ...d.spec, image: ref };
  environments.set(envName, { ...d, imageName: 'app', imageAddress: 'image.app', spec, configHash: hashOf(spec) });
  return { ...desired, images, environments };
}

function withEgress(observed: ObservedState, proxies: ObservedProxy[], subnets: Record<string, string>, egressImage: string): ObservedState {
  const images = new Map(observed.images);
  images.set(egressImage, { id: 'sha256:egress', contract: null, build: null, created: 0, tags: [egressImage] });
  return {
    ...observed,
    images,
    outsideNetwork: true,
    proxies: new Map(proxies.map((p) => [p.environment, p])),
    networks: new Map(Object.entries(subnets).map(([e, s]) => [e, { id: `net-${e}`, name: `ss.demo.${e}.net`, subnets: [s], gatewayIsolated: true }])),
    usedSubnets: Object.values(subnets),
  };
}

/** One plan with every kind of change, several of them security-relevant. */
function mixedPlan(): JsonPlan {
  const before = desiredOf([
    env('coder', { runtime: 'runsc', env: { ROLE: 'coder' }, command: ['sh', '-c', 'set -e\necho ready\nsleep infinity'] }),
    env('idle'),
    env('keeper', { protect: true }),
    env('old', { env: { ROLE: 'retired' } }),
    env('reviewer', allow('pypi.org')),
  ]);
  const now = onBuiltImage(
    desiredOf(
      [
        env('coder', {
          env: { ROLE: 'coder', DEBUG: '1' },
          secrets: { api_key: { fromEnv: 'KEY' } },
          command: ['sh', '-c', 'set -e\necho ready, debugging\nsleep infinity'],
        }),
        env('idle'),
        env('keeper'),
        env('reviewer', { ...allow('pypi.org', 'evil.example'), resources: { cpus: 2, memoryBytes: 1024 ** 3, pids: 256 } }),
        env('scratch', { env: { TASK: 'triage' } }),
      ],
      { KEY: 'hunter2-secret-value' },
    ),
    'scratch',
  );
  const egressImage = now.images.get('sandboxshift-egress')!.ref;
  const observed = withEgress(
    observedOf([...before.environments.values()].map((d) => applied(d, d.name === 'idle' ? { state: 'exited', status: 'Exited (137) 2 minutes ago' } : {}))),
    [{ id: 'p1', name: 'ss.demo.reviewer.egress', environment: 'reviewer', state: 'running', allow: ['pypi.org'], image: egressImage, imageId: 'x' }],
    { reviewer: '10.213.0.0/28' },
    egressImage,
  );
  const json = planToJson(plan(now, observed));
  return {
    ...json,
    diagnostics: [warningDiag("image 'busybox' promises contract 2, expected 1; accepted by allowContractMismatch for idle", { path: 'images.busybox' })],
  };
}

/** Cell separators in a table row: pipes not escaped with a backslash. */
const unescapedPipes = (line: string) => line.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length - 1;

describe('markdown plan', () => {
  it('renders every kind of change, security first (golden)', async () => {
    const md = renderMarkdown(mixedPlan());
    await expect(md).toMatchFileSnapshot(golden('mixed'));
    expect(md).not.toContain('hunter2');
    expect(md.indexOf('[!WARNING]')).toBeLessThan(md.indexOf('| resource |'));
  });

  it('says "No changes" briefly when nothing changes (golden)', async () => {
    const desired = desiredOf([env('a'), env('b')]);
    const md = renderMarkdown(planToJson(plan(desired, observedOf([...desired.environments.values()].map((d) => applied(d))))));
    await expect(md).toMatchFileSnapshot(golden('no-changes'));
    expect(md.split('\n').length).toBeLessThan(5);
  });

  it('flags a purge that deletes workspaces (golden)', async () => {
    const desired = desiredOf([env('a', { secrets: { tok: { fromEnv: 'T' } } }), env('b')], { T: 'secret-value' });
    const observed = observedOf([...desired.environments.values()].map((d) => applied(d)));
    const md = renderMarkdown(planToJson(planDestroy(desired, observed, { purgeVolumes: true })));
    await expect(md).toMatchFileSnapshot(golden('destroy-purge'));
    expect(md).not.toContain('secret-value');
  });

  it('adds the note line under the title, escaped', () => {
    const desired = desiredOf([env('a')]);
    const md = renderMarkdown(planToJson(plan(desired, observedOf([]))), { note: 'Compared <main> with *HEAD*' });
    expect(md.split('\n').slice(0, 3)).toEqual(['### SandboxShift plan for `demo`', '', 'Compared &lt;main&gt; with \\*HEAD\\*']);
  });
});

describe('markdown size bound', () => {
  const many = (n: number, extra: (i: number) => Parameters<typeof env>[1] = () => ({})) =>
    planToJson(plan(desiredOf(Array.from({ length: n }, (_, i) => env(`env-${String(i).padStart(4, '0')}`, { env: { INDEX: String(i) }, ...extra(i) }))), observedOf([])));

  it('drops whole details sections from the end and says how many', () => {
    const json = many(30);
    const full = renderMarkdown(json, { maxChars: 1_000_000 });
    expect(full).not.toContain('not shown');
    expect(full).not.toContain('[!WARNING]');
    const max = full.length - 500;
    const md = renderMarkdown(json, { maxChars: max });
    expect(md.length).toBeLessThanOrEqual(max);
    const shown = md.match(/<details/g)?.length ?? 0;
    expect(md.match(/<\/details>/g)?.length).toBe(shown);
    expect(shown).toBeGreaterThan(20);
    expect(shown).toBeLessThan(30);
    expect(md).toContain(`_${30 - shown} more environments not shown (comment size limit); run sandboxshift plan locally for the full plan._`);
    // The table still lists every environment; the kept sections are the first ones, whole.
    expect(md.match(/^\| `environment\./gm)?.length).toBe(30);
    expect(full.startsWith(md.slice(0, md.lastIndexOf('</details>')))).toBe(true);
  });

  it('is never longer than maxChars, and never cuts a section or code block in half', () => {
    const json = many(12, (i) => (i % 3 === 0 ? { command: ['sh', '-c', `echo ${i}\nsleep infinity`] } : {}));
    const fullLength = renderMarkdown(json, { maxChars: 1_000_000 }).length;
    for (let max = 40; max <= fullLength + 10; max += 7) {
      const md = renderMarkdown(json, { maxChars: max });
      expect(md.length).toBeLessThanOrEqual(max);
      expect(md.match(/<details/g)?.length ?? 0).toBe(md.match(/<\/details>/g)?.length ?? 0);
      expect((md.match(/^```/gm)?.length ?? 0) % 2).toBe(0);
      if (max < fullLength) expect(md).toMatch(/not shown/);
    }
  });

  it('keeps the security callout when even the table does not fit', () => {
    const json = many(400, (i) => (i === 399 ? { privileged: true } : {}));
    const md = renderMarkdown(json, { maxChars: 3_000 });
    expect(md.length).toBeLessThanOrEqual(3_000);
    expect(md).toContain('> - `environment.env-0399`: runs privileged');
    expect(md).toMatch(/_400 more environments not shown and \d+ more resources left out of the table \(comment size limit\); run sandboxshift plan locally for the full plan\._\n$/);
    // The flagged environment leads the table.
    expect(md.split('\n').find((l) => l.startsWith('| `'))).toContain('environment.env-0399');
  });

  it('fits the default limit for a thousand environments', () => {
    const md = renderMarkdown(many(1000));
    expect(md.length).toBeLessThanOrEqual(65_000);
    expect(md).toContain('more environments not shown');
  });
});

describe('markdown escaping', () => {
  it('keeps pipes and backticks in values from breaking the table', () => {
    const desired = desiredOf([env('a')]);
    const status = 'Exited (1) | `rm -rf` <b>x</b> *y* [z](http://e)';
    const json = planToJson(plan(desired, observedOf([applied(desired.environments.get('a')!, { state: 'exited', status })])));
    const md = renderMarkdown(json);
    const row = md.split('\n').find((l) => l.startsWith('| `environment.a`'))!;
    expect(row).toBe('| `environment.a` | start | none | stopped outside sandboxshift (Exited (1) \\| \\`rm -rf\\` &lt;b&gt;x&lt;/b&gt; \\*y\\* \\[z\\](http://e)) |');
    expect(unescapedPipes(row)).toBe(5);
    expect(md).toContain('- stopped outside sandboxshift (Exited (1) \\| \\`rm -rf\\` &lt;b&gt;x&lt;/b&gt; \\*y\\* \\[z\\](http://e))');
  });

  it('fences values that contain backticks with a longer fence', () => {
    const old = desiredOf([env('a', { env: { NOTE: 'plain' } })]);
    const now = desiredOf([env('a', { env: { NOTE: 'use ``` and `x` | y' } })]);
    const md = renderMarkdown(planToJson(plan(now, observedOf([applied(old.environments.get('a')!)]))));
    expect(md).toContain('````diff\n');
    expect(md).toContain('-   NOTE: "plain"\n+   NOTE: "use ``` and `x` | y"\n');
    expect(md).toContain('\n````\n');
  });

  it('never prints secret values, only names', () => {
    const old = desiredOf([env('a', { secrets: { tok: { fromEnv: 'T' } } })], { T: 'old-value-123' });
    const now = desiredOf([env('a', { secrets: { tok: { fromEnv: 'T' }, extra: { fromEnv: 'E' } } })], { T: 'new-value-456', E: 'extra-789' });
    const md = renderMarkdown(planToJson(plan(now, observedOf([applied(old.environments.get('a')!)]))));
    for (const value of ['old-value-123', 'new-value-456', 'extra-789']) expect(md).not.toContain(value);
    expect(md).toContain('secret tok changed (value hidden)');
    expect(md).toContain('- secrets: [tok]  # names only, values hidden');
    expect(md).toContain('+ secrets: [extra, tok]  # names only, values hidden');
    expect(md).toContain('> - `environment.a`: secret added: extra');
  });
});
