// `watch` flags that are refused before anything starts: each says what to write instead.
import { describe, expect, it } from 'vitest';
import { watchCommand } from '../../../src/cli/commands/watch.js';
import { DiagnosticsError } from '../../../src/diagnostics.js';

const io = { out: () => undefined, err: () => undefined } as unknown as Parameters<typeof watchCommand>[1];

async function refusal(argv: string[], env: Record<string, string> = {}): Promise<{ message: string; hint?: string }> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    await watchCommand(argv, io);
  } catch (err) {
    if (!(err instanceof DiagnosticsError)) throw err;
    return { message: err.diagnostics[0]!.message, hint: err.diagnostics[0]!.hint };
  } finally {
    process.env = saved;
  }
  throw new Error(`watch ${argv.join(' ')} was not refused`);
}

describe('watch flags', () => {
  it('--listen without a webhook secret', async () => {
    expect(await refusal(['--listen', '127.0.0.1:9419'])).toEqual({
      message: 'watch: --listen needs a webhook secret: unsigned webhooks are never accepted',
      hint: 'give it by reference: --webhook-secret-file PATH or --webhook-secret-env NAME (the same secret as in the repository webhook settings)',
    });
  });
  it('--listen without a host', async () => {
    expect((await refusal(['--listen', ':9419', '--webhook-secret-env', 'X'])).message).toBe("watch: --listen must be HOST:PORT, got ':9419'");
  });
  it('a secret variable that is not set', async () => {
    expect((await refusal(['--listen', '127.0.0.1:9419', '--webhook-secret-env', 'SS_UNIT_NO_SUCH_VAR'])).message).toBe(
      'watch: the environment variable SS_UNIT_NO_SUCH_VAR (--webhook-secret-env) is not set or empty',
    );
  });
  it('both secret flags at once', async () => {
    expect((await refusal(['--listen', '127.0.0.1:9419', '--webhook-secret-env', 'A', '--webhook-secret-file', '/x'])).message).toBe(
      'watch: give the webhook secret once: --webhook-secret-file or --webhook-secret-env, not both',
    );
  });
  it('a secret file that cannot be read', async () => {
    expect((await refusal(['--listen', '127.0.0.1:9419', '--webhook-secret-file', '/nonexistent/secret'])).message).toBe('watch: cannot read the webhook secret file /nonexistent/secret: ENOENT');
  });
  it('a webhook secret without --listen', async () => {
    expect((await refusal(['--webhook-secret-env', 'A'])).hint).toBe('add --listen 127.0.0.1:9419 to serve the webhook');
  });
  it('--interval without --git', async () => {
    expect((await refusal(['--interval', '5s'])).message).toBe('watch: --interval is how often --git fetches, and --git is not given');
  });
  it('an --interval under a second', async () => {
    expect((await refusal(['--git', '--interval', '0s'])).message).toBe("watch: --interval must be a duration of at least 1s, got '0s'");
  });
});
