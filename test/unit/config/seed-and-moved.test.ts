// Seeding copies host files into a sandbox: only from the config's own folder unless opted in.
// `moved` renames: from a name that is gone, to one that exists.
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfigText } from '../../../src/config/index.js';
import { resolveDesired } from '../../../src/model/resolve.js';
import { desiredView } from '../../../src/plan/view.js';

function project(): { dir: string; outside: string; file: string } {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'ss-seedcheck-')));
  const dir = join(root, 'repo');
  const outside = join(root, 'elsewhere');
  mkdirSync(join(dir, 'seed'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'id_rsa'), 'not for the sandbox');
  return { dir, outside, file: join(dir, 'sandboxshift.yaml') };
}

const errors = (text: string, file: string) =>
  validateConfigText(text, file)
    .diagnostics.filter((d) => d.severity === 'error')
    .map((d) => d.message);
const yaml = (...env: string[]) => ['version: 1', 'project: demo', 'environments:', '  box:', ...env.map((l) => `    ${l}`), ''].join('\n');

describe('workspace seed paths', () => {
  it('accepts a folder inside the config folder', () => {
    const p = project();
    expect(errors(yaml('workspace: { from: ./seed }'), p.file)).toEqual([]);
  });

  it.each([
    ['a relative escape', '../elsewhere'],
    ['an absolute path', 'ABS'],
  ])('refuses %s naming the real path', (_, given) => {
    const p = project();
    const from = given === 'ABS' ? p.outside : given;
    expect(errors(yaml(`workspace: { from: ${from} }`), p.file)).toEqual([
      `seeding /workspace from '${from}' (${p.outside}), outside the config's folder ${p.dir} is refused for environment 'box': it copies host files the sandbox should not see into it`,
    ]);
  });

  it('follows symlinks: a link inside the folder that points out is refused', () => {
    const p = project();
    symlinkSync(p.outside, join(p.dir, 'innocent'));
    expect(errors(yaml('workspace: { from: ./innocent }'), p.file)).toEqual([
      `seeding /workspace from './innocent' (${p.outside}), outside the config's folder ${p.dir} is refused for environment 'box': it copies host files the sandbox should not see into it`,
    ]);
  });

  it('refuses a local git repository outside the folder too', () => {
    const p = project();
    expect(errors(yaml(`workspace: { git: { url: "file://${p.outside}" } }`), p.file)[0]).toContain(`seeding /workspace from '${p.outside}'`);
  });

  it.each([
    ['a bare relative path', 'seed/../../elsewhere'],
    ['a file URL with a host', 'file://localhost/ABS'],
  ])('treats %s as a host folder, resolved against the config folder', (_, url) => {
    const p = project();
    const given = url.replace('/ABS', p.outside);
    expect(errors(yaml(`workspace: { git: { url: "${given}" } }`), p.file)[0]).toContain(`), outside the config's folder ${p.dir} is refused`);
  });

  it('refuses a repository inside the folder whose .git points elsewhere', () => {
    const p = project();
    mkdirSync(join(p.dir, 'repo'));
    writeFileSync(join(p.dir, 'repo', '.git'), `gitdir: ${p.outside}/.git\n`);
    expect(errors(yaml('workspace: { git: { url: ./repo } }'), p.file)).toEqual([
      `seeding /workspace from the git repository './repo' is refused for environment 'box': ${join(p.dir, 'repo', '.git')} is a gitfile (gitdir: ${p.outside}/.git), so files from outside the config's folder would be copied in`,
    ]);
  });

  it('refuses a seed folder that holds a secret file, naming it', () => {
    const p = project();
    mkdirSync(join(p.dir, 'seed', 'secrets'));
    writeFileSync(join(p.dir, 'seed', 'secrets', 'token'), 'SUPER-SECRET');
    const { config } = validateConfigText(yaml('workspace: { from: ./seed }', 'secrets: { token: { fromFile: ./seed/secrets/token } }'), p.file);
    const r = resolveDesired(config!, { env: {} });
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      `environment 'box': workspace.from ${join(p.dir, 'seed')} contains secret files (${join(p.dir, 'seed', 'secrets', 'token')}), which would be copied into /workspace in the clear`,
    ]);
  });

  it('never shows credentials written into a git URL', () => {
    const { config } = validateConfigText(yaml('workspace: { git: { url: "https://bob:ghp_SECRET42@git.example/r.git", ref: main } }'), '/srv/sandboxshift.yaml');
    const d = resolveDesired(config!, { env: {} }).desired.environments.get('box')!;
    expect(desiredView(d).seed).toBe('git https://***@git.example/r.git@main');
  });

  it('allows it under allowDangerous: [host-mounts]', () => {
    const p = project();
    expect(errors(yaml('workspace: { from: ../elsewhere }', 'allowDangerous: [host-mounts]'), p.file)).toEqual([]);
  });
});

describe('moved', () => {
  const text = (moved: string, envs = ['b']) => ['version: 1', 'project: demo', `moved: ${moved}`, 'environments:', ...envs.map((e) => `  ${e}: {}`), ''].join('\n');

  it('accepts a rename and carries it into the config', () => {
    const { config, diagnostics } = validateConfigText(text('[{ from: a, to: b }]'), '/srv/sandboxshift.yaml');
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(config?.moved).toEqual([{ from: 'a', to: 'b' }]);
  });

  it.each([
    ['[{ from: b, to: b }]', ["moved: 'b' is still under environments, so it cannot have moved", "moved: 'b' moves to itself"]],
    ['[{ from: a, to: c }]', ["moved: 'c' is not an environment"]],
    ['[{ from: a, to: b }, { from: a, to: b }]', ["moved: 'a' is moved twice (also in moved[0])", "moved: two workspaces move into 'b' (also in moved[0])"]],
  ])('refuses %s', (moved, expected) => {
    expect(errors(text(moved), '/srv/sandboxshift.yaml')).toEqual(expected);
  });

  it('refuses adopt in defaults: a volume is adopted one environment at a time', () => {
    expect(errors(['version: 1', 'project: demo', 'defaults: { workspace: { adopt: true } }', 'environments:', '  box: {}', ''].join('\n'), '/srv/sandboxshift.yaml')).toEqual([
      "'adopt' cannot be set in defaults",
    ]);
  });

  it('refuses adopt together with a seed', () => {
    expect(errors(yaml('workspace: { adopt: true, git: { url: "https://git.example/r.git" } }'), '/srv/sandboxshift.yaml')).toEqual([
      'an adopted volume is never seeded: adopt cannot be combined with from or git',
    ]);
  });
});
