import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedProbe, rememberProbe } from '../../../src/engine/probe-cache.js';

describe('image probe cache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ss-probe-cache-'));
    process.env.SANDBOXSHIFT_CACHE_DIR = dir;
  });
  afterEach(() => {
    delete process.env.SANDBOXSHIFT_CACHE_DIR;
  });

  it('remembers answers per image ID and user, and knows nothing else', () => {
    expect(cachedProbe('sha256:aaa|65532:65532')).toBeUndefined();
    rememberProbe('sha256:aaa|65532:65532', { shell: true, workspaceWritable: false });
    rememberProbe('sha256:bbb|1000:1000', { shell: false, workspaceWritable: false });
    expect(cachedProbe('sha256:aaa|65532:65532')).toEqual({ shell: true, workspaceWritable: false });
    expect(cachedProbe('sha256:aaa|1000:1000')).toBeUndefined();
    expect(JSON.parse(readFileSync(join(dir, 'image-probes.json'), 'utf8'))).toHaveProperty(['sha256:bbb|1000:1000']);
  });

  it('treats an unreadable cache as empty', () => {
    writeFileSync(join(dir, 'image-probes.json'), '{not json');
    expect(cachedProbe('sha256:aaa|65532:65532')).toBeUndefined();
    rememberProbe('sha256:aaa|65532:65532', { shell: true, workspaceWritable: true });
    expect(cachedProbe('sha256:aaa|65532:65532')).toEqual({ shell: true, workspaceWritable: true });
  });
});
