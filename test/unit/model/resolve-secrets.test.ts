// resolveDesired's secretsOptional: a secret that cannot be read becomes the fingerprint
// 'unknown' with no value and no diagnostic; one that can be read is fingerprinted as always.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import { resolveDesired, UNKNOWN_SECRET } from '../../../src/model/resolve.js';
import { env } from '../plan/fixtures.js';

function config(dir: string): Config {
  return {
    version: 1,
    project: 'demo',
    file: join(dir, 'sandboxshift.yaml'),
    dir,
    images: { busybox: { name: 'busybox', ref: 'sandboxshift/busybox:test' } },
    moved: [],
    environments: {
      agent: env('agent', { secrets: { api_key: { fromEnv: 'API_KEY' }, deploy_key: { fromFile: './deploy_key' }, token: { fromEnv: 'TOKEN' } } }),
    },
    source: 'literal',
  };
}

describe('resolveDesired secrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-secrets-'));
  writeFileSync(join(dir, 'deploy_key'), 'file-secret');

  it('missing secrets are errors by default', () => {
    const r = resolveDesired(config(dir), { env: { TOKEN: 'tok-value' } });
    expect(r.diagnostics.map((d) => [d.severity, d.path])).toEqual([['error', 'environments.agent.secrets.api_key']]);
    expect(Object.keys(r.desired.environments.get('agent')!.spec.secrets)).toEqual(['deploy_key', 'token']);
  });

  it('with secretsOptional, a missing one is fingerprinted unknown, with no value and no diagnostic', () => {
    const r = resolveDesired(config(dir), { env: { TOKEN: 'tok-value' }, secretsOptional: true });
    expect(r.diagnostics).toEqual([]);
    const secrets = r.desired.environments.get('agent')!.spec.secrets;
    expect(secrets.api_key).toBe(UNKNOWN_SECRET);
    expect(UNKNOWN_SECRET).toBe('unknown');
    // Readable ones keep their real fingerprints, exactly as without the option.
    const strict = resolveDesired(config(dir), { env: { TOKEN: 'tok-value', API_KEY: 'x' } });
    expect(secrets.token).toBe(strict.desired.environments.get('agent')!.spec.secrets.token);
    expect(secrets.deploy_key).toBe(strict.desired.environments.get('agent')!.spec.secrets.deploy_key);
    expect(secrets.token).toMatch(/^[0-9a-f]{32}$/);
    // Values exist only for what was read; nothing is invented for the unknown one.
    expect(r.secrets.get('agent')!.map((s) => [s.name, s.value.toString()])).toEqual([
      ['deploy_key', 'file-secret'],
      ['token', 'tok-value'],
    ]);
    expect(JSON.stringify(r.desired.environments.get('agent')!.spec)).not.toContain('tok-value');
  });
});
