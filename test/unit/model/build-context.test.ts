import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BuildContextError, changedFiles, digestBuildContext, listContextFiles } from '../../../src/model/build-context.js';

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ss-ctx-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

describe('build context digest', () => {
  it('honours .dockerignore like Docker, including re-included files', () => {
    const dir = context({ Dockerfile: 'FROM x', 'a.log': '', 'src/app.py': '', 'logs/keep.log': '', '.dockerignore': '*.log\nlogs\n!logs/keep.log\n' });
    expect(listContextFiles(dir)).toEqual(['.dockerignore', 'Dockerfile', 'logs/keep.log', 'src/app.py']);
  });

  it('changes with content, args and Dockerfile name, not with ignored files', () => {
    const dir = context({ Dockerfile: 'FROM x', 'app.py': 'print(1)', 'junk.log': 'a', '.dockerignore': '*.log\n' });
    const base = digestBuildContext(dir, 'Dockerfile', {});
    writeFileSync(join(dir, 'junk.log'), 'b');
    expect(digestBuildContext(dir, 'Dockerfile', {}).hash).toBe(base.hash);
    expect(digestBuildContext(dir, 'Dockerfile', { V: '1' }).hash).not.toBe(base.hash);
    expect(digestBuildContext(dir, 'Other', {}).hash).not.toBe(base.hash);
    writeFileSync(join(dir, 'app.py'), 'print(2)');
    const after = digestBuildContext(dir, 'Dockerfile', {});
    expect(after.hash).not.toBe(base.hash);
    expect(changedFiles(base.files, after.files)).toEqual(['app.py']);
  });

  it('refuses a FIFO the .dockerignore lets through, naming it, without opening it; an ignored one is left out', () => {
    const dir = context({ Dockerfile: 'FROM x', 'sub/app.py': '' });
    execFileSync('mkfifo', [join(dir, 'sub/pipe')]);
    for (const read of [() => listContextFiles(dir), () => digestBuildContext(dir, 'Dockerfile', {})]) {
      expect(read).toThrow(BuildContextError);
      expect(read).toThrow(`build context ${dir} holds sub/pipe, which is a FIFO (named pipe): a build context may hold only folders, files and symlinks`);
    }
    writeFileSync(join(dir, '.dockerignore'), 'sub/pipe\n');
    expect(listContextFiles(dir)).toEqual(['.dockerignore', 'Dockerfile', 'sub/app.py']);
    expect(Object.keys(digestBuildContext(dir, 'Dockerfile', {}).files)).toEqual(['.dockerignore', 'Dockerfile', 'sub/app.py']);
  });
});
