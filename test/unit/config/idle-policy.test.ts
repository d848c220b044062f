// `idle:` as people write it: action and cpuPercent with their defaults, inherited from
// `defaults` as a whole value, and positioned errors for what the schema refuses.
import { describe, expect, it } from 'vitest';
import { validateConfigText } from '../../../src/config/index.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';

function load(...lines: string[]) {
  const { config, diagnostics } = validateConfigText(['version: 1', 'project: demo', ...lines].join('\n') + '\n', 'sandboxshift.yaml');
  return { config, errors: diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic) };
}

describe('idle policy config', () => {
  it('reads stopAfter, action and cpuPercent, with stop and 5% as defaults', () => {
    const { config, errors } = load(
      'defaults:',
      '  idle: {stopAfter: 30m}',
      'environments:',
      '  a: {}',
      '  b:',
      '    idle: {stopAfter: 1h, action: pause, cpuPercent: 20}',
      '  c:',
      '    idle: {stopAfter: never}',
    );
    expect(errors).toEqual([]);
    expect(config!.environments.a!.idle).toEqual({ stopAfterSeconds: 1800, action: 'stop', cpuPercent: 5 });
    expect(config!.environments.b!.idle).toEqual({ stopAfterSeconds: 3600, action: 'pause', cpuPercent: 20 });
    expect(config!.environments.c!.idle).toEqual({ stopAfterSeconds: null, action: 'stop', cpuPercent: 5 });
  });

  it('refuses an unknown action and a CPU threshold out of range, where they are written', () => {
    const bad = load('environments:', '  a:', '    idle: {stopAfter: 1h, action: sleep}');
    expect(bad.config).toBeUndefined();
    expect(bad.errors.join('\n')).toMatch(/^sandboxshift\.yaml:5:\d+: error: .*(stop|pause).*\(at environments\.a\.idle\.action\)/m);
    const zero = load('environments:', '  a:', '    idle: {stopAfter: 1h, cpuPercent: 0}');
    expect(zero.errors.join('\n')).toMatch(/^sandboxshift\.yaml:5:\d+: error: .*\(at environments\.a\.idle\.cpuPercent\)/m);
  });

  it('warns, at the key, that pausing never happens when stopAfter is never', () => {
    const { config, diagnostics } = validateConfigText('version: 1\nproject: demo\nenvironments:\n  a:\n    idle: {stopAfter: never, action: pause}\n', 'sandboxshift.yaml');
    expect(config).toBeDefined();
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      "sandboxshift.yaml:5:38: warning: 'action: pause' has no effect with 'stopAfter: never' (at environments.a.idle.action)\n  hint: write a duration, e.g. stopAfter: 30m, or leave action out",
    ]);
  });
});
