// A secret is bounded: at most 500 KiB, from a regular file or a variable. Devices, FIFOs and
// folders are refused at once (a FIFO with no writer must not hang the run).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Config, SecretSource } from '../../../src/config/types.js';
import { resolveDesired } from '../../../src/model/resolve.js';
import { MAX_SECRET_BYTES } from '../../../src/model/secret-source.js';
import { env } from '../plan/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'ss-secret-limits-'));

function configWith(source: SecretSource): Config {
  return {
    version: 1,
    project: 'demo',
    moved: [],
    file: join(dir, 'sandboxshift.yaml'),
    dir,
    images: { busybox: { name: 'busybox', ref: 'sandboxshift/busybox:test' } },
    environments: { agent: env('agent', { secrets: { key: source } }) },
    source: 'literal',
  };
}

function problems(source: SecretSource, processEnv: NodeJS.ProcessEnv = {}, secretsOptional = false) {
  return resolveDesired(configWith(source), { env: processEnv, secretsOptional }).diagnostics.map((d) => [d.message, d.path, d.hint]);
}

describe('secret size and kind', () => {
  it('takes a file of exactly the limit', () => {
    writeFileSync(join(dir, 'at-limit'), Buffer.alloc(MAX_SECRET_BYTES, 0x61));
    const r = resolveDesired(configWith({ fromFile: './at-limit' }), { env: {} });
    expect(r.diagnostics).toEqual([]);
    expect(r.secrets.get('agent')![0]!.value.length).toBe(MAX_SECRET_BYTES);
  });

  it('refuses a file one byte over the limit, naming the secret and the limit', () => {
    writeFileSync(join(dir, 'over'), Buffer.alloc(MAX_SECRET_BYTES + 1, 0x61));
    expect(problems({ fromFile: './over' })).toEqual([
      [
        "secret 'key' of environment 'agent': ./over is larger than 500 KiB, the limit for one secret",
        'environments.agent.secrets.key',
        'a secret is a key or a token; put larger data in the workspace (workspace.from) instead',
      ],
    ]);
  });

  it('refuses /dev/zero at once instead of reading it forever', () => {
    const started = Date.now();
    expect(problems({ fromFile: '/dev/zero' })).toEqual([
      [
        "secret 'key' of environment 'agent': /dev/zero is a device, not a regular file; a secret is read from a file of at most 500 KiB",
        'environments.agent.secrets.key',
        'point fromFile at a regular file holding the secret',
      ],
    ]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a FIFO without waiting for a writer, and a directory', () => {
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    mkdirSync(join(dir, 'folder'));
    expect(problems({ fromFile: './pipe' })[0]![0]).toBe("secret 'key' of environment 'agent': ./pipe is a named pipe (FIFO), not a regular file; a secret is read from a file of at most 500 KiB");
    expect(problems({ fromFile: './folder' })[0]![0]).toBe("secret 'key' of environment 'agent': ./folder is a directory, not a regular file; a secret is read from a file of at most 500 KiB");
  });

  it('caps fromEnv the same way, without printing the value', () => {
    const big = 'x'.repeat(MAX_SECRET_BYTES + 1);
    const out = problems({ fromEnv: 'BIG' }, { BIG: big });
    expect(out).toEqual([
      [
        "secret 'key' of environment 'agent': environment variable BIG holds more than 500 KiB, the limit for one secret",
        'environments.agent.secrets.key',
        'a secret is a key or a token; put larger data in the workspace (workspace.from) instead',
      ],
    ]);
    expect(JSON.stringify(out)).not.toContain('xxxx');
    expect(problems({ fromEnv: 'BIG' }, { BIG: 'x'.repeat(MAX_SECRET_BYTES) })).toEqual([]);
  });

  it('refuses a fromEnv value holding U+FFFD (bytes Node could not decode), pointing at fromFile, without printing the value', () => {
    // What Node makes of TOKEN=$'tok3n\xff\xfe': the two bytes are lost, each now U+FFFD.
    const out = problems({ fromEnv: 'TOKEN' }, { TOKEN: 'tok3n\uFFFD\uFFFD' });
    expect(out).toEqual([
      [
        "secret 'key' of environment 'agent': environment variable TOKEN is not valid UTF-8 (it holds U+FFFD, which stands in for bytes that could not be decoded, so the value as set is lost)",
        'environments.agent.secrets.key',
        'a binary value cannot come through a variable: write it to a file and use fromFile: PATH instead (the value is never printed)',
      ],
    ]);
    expect(JSON.stringify(out)).not.toContain('tok3n');
    // Refused, not unreadable: diff does not pass over it as unknown.
    expect(problems({ fromEnv: 'TOKEN' }, { TOKEN: '\uFFFD' }, true)).toHaveLength(1);
    expect(problems({ fromEnv: 'TOKEN' }, { TOKEN: 'caf\u00e9 \u{1F600}' })).toEqual([]);
  });

  it('a refused secret stays an error even where unreadable ones are optional (diff)', () => {
    expect(problems({ fromFile: '/dev/zero' }, {}, true).map((p) => p[0])).toEqual([
      "secret 'key' of environment 'agent': /dev/zero is a device, not a regular file; a secret is read from a file of at most 500 KiB",
    ]);
    expect(problems({ fromFile: './absent' }, {}, true)).toEqual([]);
  });
});
