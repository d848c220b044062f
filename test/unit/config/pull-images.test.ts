// `images.NAME.ref` on any registry with `pull` and `pullSecret`: what loads, what is refused
// where it is written, and the reference parser behind the semantic check.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineRef, imageByRef, parseImageRef } from '../../../src/config/image-ref.js';
import { validateConfigText } from '../../../src/config/index.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';
import { readPullAuth } from '../../../src/model/pull-auth.js';

function load(...lines: string[]) {
  const { config, diagnostics } = validateConfigText(['version: 1', 'project: demo', ...lines, 'environments:', '  a: { image: app }'].join('\n') + '\n', '/cfg/sandboxshift.yaml');
  return { config, all: diagnostics.map(formatDiagnostic) };
}

describe('pull and pullSecret in the config', () => {
  it('loads both credential forms, with paths resolved against the config and if-not-present as the default', () => {
    const env = load('images:', '  app:', '    ref: 127.0.0.1:5000/team/app:1', '    pullSecret: { username: { fromEnv: U }, password: { fromFile: ./pw } }');
    expect(env.all).toEqual([]);
    expect(env.config!.images.app).toEqual({ name: 'app', ref: '127.0.0.1:5000/team/app:1', pull: 'if-not-present', pullSecret: { username: { fromEnv: 'U' }, password: { fromFile: '/cfg/pw' } } });
    const file = load('images:', '  app:', '    ref: ghcr.io/org/app@sha256:' + 'a'.repeat(64), '    pull: always', '    pullSecret: { dockerConfig: { fromFile: ./docker/config.json } }');
    expect(file.all).toEqual([]);
    expect(file.config!.images.app).toMatchObject({ pull: 'always', pullSecret: { dockerConfig: { fromFile: '/cfg/docker/config.json' } } });
  });

  it('refuses a password written inline, an unknown pull value and a bad reference, where they are written', () => {
    const inline = load('images:', '  app:', '    ref: r.example.com/app:1', '    pullSecret: { username: alice, password: hunter2 }');
    expect(inline.config).toBeUndefined();
    expect(inline.all.join('\n')).toMatch(/sandboxshift\.yaml:6:\d+: error: .*\(at images\.app\.pullSecret/);
    expect(inline.all.join('\n')).not.toContain('hunter2');
    expect(inline.all.join('\n')).toContain("'password' must be a map with exactly one of 'fromEnv' or 'fromFile', not a string (value hidden");
    const pull = load('images:', '  app:', '    ref: r.example.com/app:1', '    pull: sometimes');
    expect(pull.all.join('\n')).toMatch(/sandboxshift\.yaml:6:\d+: error: .*\(at images\.app\.pull\)/);
    const bad = load('images:', '  app:', '    ref: Registry.example.com/Team/App:1');
    expect(bad.all.join('\n')).toContain(
      "/cfg/sandboxshift.yaml:5:10: error: images.app.ref is not an image reference: repository 'Registry.example.com/Team/App' must be lowercase letters, digits and separators ('.', '_', '-', '/') (at images.app.ref)",
    );
  });

  it('warns that a pullSecret is never used with pull: never', () => {
    const r = load('images:', '  app:', '    ref: r.example.com/app:1', '    pull: never', '    pullSecret: { username: { fromEnv: U }, password: { fromEnv: P } }');
    expect(r.config).toBeDefined();
    expect(r.all.join('\n')).toMatch(/warning: images\.app\.pullSecret is never used: pull is never \(at images\.app\.pullSecret\)/);
  });
});

describe('parseImageRef', () => {
  it('reads the registry as Docker does', () => {
    expect(parseImageRef('busybox')).toEqual({ registry: 'docker.io', repository: 'busybox', tag: null, digest: null });
    expect(parseImageRef('team/app:1')).toEqual({ registry: 'docker.io', repository: 'team/app', tag: '1', digest: null });
    expect(parseImageRef('127.0.0.1:5000/team/app:v1.2')).toEqual({ registry: '127.0.0.1:5000', repository: '127.0.0.1:5000/team/app', tag: 'v1.2', digest: null });
    expect(parseImageRef('localhost/app')).toMatchObject({ registry: 'localhost', tag: null });
    const d = `sha256:${'b'.repeat(64)}`;
    expect(parseImageRef(`ghcr.io/org/app@${d}`)).toEqual({ registry: 'ghcr.io', repository: 'ghcr.io/org/app', tag: null, digest: d });
  });
  it('names the bad part', () => {
    expect(parseImageRef('app@sha256:abc')).toBe("digest 'sha256:abc' is not sha256: followed by 64 lowercase hex digits");
    expect(parseImageRef('app:bad tag')).toMatch(/^tag 'bad tag' is not a valid tag/);
    expect(parseImageRef('team/../app')).toMatch(/^repository 'team\/\.\.\/app' must be lowercase/);
  });
});

describe('engineRef and imageByRef: REPO:TAG@DIGEST is the digest alone', () => {
  const d = `sha256:${'b'.repeat(64)}`;
  it('drops the tag only when a digest is there too, keeping a registry port', () => {
    expect(engineRef(`127.0.0.1:5000/team/app:v1@${d}`)).toBe(`127.0.0.1:5000/team/app@${d}`);
    expect(engineRef(`app:1@${d}`)).toBe(`app@${d}`);
    expect(engineRef(`app@${d}`)).toBe(`app@${d}`);
    expect(engineRef('127.0.0.1:5000/team/app:v1')).toBe('127.0.0.1:5000/team/app:v1');
    expect(engineRef('not a ref')).toBe('not a ref');
  });
  it('finds the image the engine lists under REPO@DIGEST (it tags nothing on a pull by digest), and nothing for another digest', () => {
    const images = new Map([[`127.0.0.1:5000/app@${d}`, 'img']]);
    expect(imageByRef(images, `127.0.0.1:5000/app:v1@${d}`)).toBe('img');
    expect(imageByRef(images, `127.0.0.1:5000/app:v1@sha256:${'c'.repeat(64)}`)).toBeUndefined();
    expect(imageByRef(images, '127.0.0.1:5000/app:v1')).toBeUndefined();
  });
});

describe('readPullAuth', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-pullauth-'));
  it('reads username and password (a trailing newline dropped) and a config.json entry for the registry', () => {
    writeFileSync(join(dir, 'pw'), 'p4ss\n');
    expect(readPullAuth({ username: { fromEnv: 'U' }, password: { fromFile: join(dir, 'pw') } }, 'r.example.com', { U: 'alice' })).toEqual({
      username: 'alice',
      password: 'p4ss',
      serveraddress: 'r.example.com',
    });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'r.example.com': { auth: Buffer.from('bob:s:e:c').toString('base64') } } }));
    expect(readPullAuth({ dockerConfig: { fromFile: join(dir, 'config.json') } }, 'r.example.com', {})).toEqual({ username: 'bob', password: 's:e:c', serveraddress: 'r.example.com' });
  });
  it('says what is missing without any value', () => {
    writeFileSync(join(dir, 'helper.json'), JSON.stringify({ auths: { 'other.example.com': { auth: Buffer.from('x:topsecret').toString('base64') } }, credsStore: 'desktop' }));
    const p = readPullAuth({ dockerConfig: { fromFile: join(dir, 'helper.json') } }, 'r.example.com', {});
    expect(p).toMatchObject({
      kind: 'refused',
      message: `${join(dir, 'helper.json')} has no credentials for registry r.example.com (it names the credential helper 'desktop', which SandboxShift does not run)`,
    });
    expect(JSON.stringify(p)).not.toContain('topsecret');
    expect(readPullAuth({ username: { fromEnv: 'U' }, password: { fromEnv: 'P' } }, 'r', { U: 'a' })).toMatchObject({ kind: 'unreadable', message: 'environment variable P is not set' });
  });
});
