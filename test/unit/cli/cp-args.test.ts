// cp's short path reads only the plain forms of its argv; each it accepts reads as parse() reads
// it (the full command's flag parser), and everything else goes to that parser (null).
import { describe, expect, it } from 'vitest';
import { parse } from '../../../src/cli/args.js';
import { configPath } from '../../../src/cli/config-arg.js';
import { quickCpArgs } from '../../../src/cli/cp-fast.js';

describe('quickCpArgs', () => {
  it.each([
    [['a.txt', 'dev:'], { json: false, source: 'a.txt', destination: 'dev:' }],
    [['--json', 'dev:x', './y'], { json: true, source: 'dev:x', destination: './y' }],
    [['dev:x', './y', '--json'], { json: true, source: 'dev:x', destination: './y' }],
    [['-c', 'o.yaml', 'a', 'dev:b'], { config: 'o.yaml', json: false, source: 'a', destination: 'dev:b' }],
    [['a', '--config', 'o.yaml', 'dev:b'], { config: 'o.yaml', json: false, source: 'a', destination: 'dev:b' }],
    [['--config=o.yaml', 'a', 'dev:b', '--json', '--json'], { config: 'o.yaml', json: true, source: 'a', destination: 'dev:b' }],
  ] as const)('%j as parse() reads it', (argv, want) => {
    expect(quickCpArgs(argv)).toEqual(want);
    const { values, positionals } = parse('cp', [...argv], { json: { type: 'boolean' } });
    expect({ config: configPath(values), json: values.json === true, positionals }).toEqual({
      config: 'config' in want ? want.config : configPath({}),
      json: want.json,
      positionals: [want.source, want.destination],
    });
  });

  it.each([
    [['--help', 'a', 'dev:b']],
    [['-h']],
    [['--no-color', 'a', 'dev:b']],
    [['--json=true', 'a', 'dev:b']],
    [['--', 'a', 'dev:b']],
    [['-', 'dev:b']],
    [['a', 'dev:b', '-x']],
    [['-c', '--json', 'a', 'dev:b']],
    [['--config=', 'a', 'dev:b']],
    [['a', 'dev:b', '-c']],
    [['-co.yaml', 'a', 'dev:b']],
    [['a']],
    [['a', 'b', 'dev:c']],
    [[]],
  ])('%j is left to the flag parser', (argv) => {
    expect(quickCpArgs(argv)).toBeNull();
  });
});
