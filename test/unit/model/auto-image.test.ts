import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseAutoImage } from '../../../src/model/auto-image.js';
import { env } from '../plan/fixtures.js';

function workspaceWith(files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'ss-auto-'));
  for (const f of files) writeFileSync(join(dir, f), '');
  return dir;
}

describe('image: auto', () => {
  const none = new Set<string>();
  it.each([
    [['requirements.txt'], 'python', 'requirements.txt → python'],
    [['pyproject.toml'], 'python', 'pyproject.toml → python'],
    [['package.json'], 'node', 'package.json → node'],
    [['requirements.txt', 'package.json'], 'multi', 'requirements.txt, package.json → multi'],
    [['README.md'], 'multi', 'no marker files in workspace.from → multi'],
  ])('%j picks %s', (files, image, because) => {
    expect(chooseAutoImage(env('a', { workspace: { from: workspaceWith(files) } }), none)).toEqual({ image, because });
  });

  it('falls back to an image named default when the config has one', () => {
    expect(chooseAutoImage(env('a', { workspace: { from: workspaceWith([]) } }), new Set(['default'])).image).toBe('default');
    expect(chooseAutoImage(env('a'), new Set(['default']))).toEqual({ image: 'default', because: 'no workspace.from to inspect → default' });
  });

  it('does not clone a git workspace to look', () => {
    expect(chooseAutoImage(env('a', { workspace: { git: { url: 'https://example.invalid/r.git' } } }), none).because).toBe('git workspace, not inspected before cloning → multi');
  });

  it('only looks at the top of the workspace', () => {
    const dir = workspaceWith([]);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'package.json'), '{}');
    expect(chooseAutoImage(env('a', { workspace: { from: dir } }), none).image).toBe('multi');
  });
});
