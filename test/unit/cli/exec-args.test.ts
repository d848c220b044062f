// exec's options stop at ENV: what follows is the command's, its own flags included.
import { describe, expect, it } from 'vitest';
import { splitExecArgs } from '../../../src/cli/commands/exec.js';
import { quickExecOptions } from '../../../src/cli/exec-args.js';

describe('splitExecArgs', () => {
  it.each([
    [['dev', 'ls', '-la'], [], 'dev', ['ls', '-la']],
    [['-it', 'dev', 'sh'], ['-it'], 'dev', ['sh']],
    [['-c', 'other.yaml', 'dev', '--', 'grep', '--help'], ['-c', 'other.yaml'], 'dev', ['grep', '--help']],
    [['--config', 'x.yaml', '--no-tty', 'dev', 'true'], ['--config', 'x.yaml', '--no-tty'], 'dev', ['true']],
    [['--config=x.yaml', 'dev', 'true'], ['--config=x.yaml'], 'dev', ['true']],
    [['--', 'dev', '--', '-x'], [], 'dev', ['-x']],
    [['dev', '--', '--'], [], 'dev', ['--']],
    [['--help'], ['--help'], undefined, []],
    [[], [], undefined, []],
  ])('%j', (argv, own, env, cmd) => {
    expect(splitExecArgs(argv)).toEqual({ own, env, cmd });
  });
});

// The short path reads only the plain forms; anything else goes to the flag parser (null).
describe('quickExecOptions', () => {
  it.each([
    ['exec', [], {}],
    ['exec', ['-it'], { interactive: true, tty: true }],
    ['exec', ['-t', '--no-tty', '-i'], { tty: true, 'no-tty': true, interactive: true }],
    ['exec', ['-c', 'x.yaml', '--config=y.yaml'], { config: 'y.yaml' }],
    ['exec', ['--config', 'x.yaml', '--interactive'], { config: 'x.yaml', interactive: true }],
    ['shell', ['--no-tty', '-c', 'x.yaml'], { 'no-tty': true, config: 'x.yaml' }],
    ['exec', ['--help'], null],
    ['exec', ['-h'], null],
    ['exec', ['--no-color'], null],
    ['exec', ['-x'], null],
    ['exec', ['-cx.yaml'], null],
    ['exec', ['-c', '--no-tty'], null],
    ['exec', ['--config='], null],
    ['exec', ['-c'], null],
    ['shell', ['-t'], null],
    ['shell', ['-i'], null],
  ] as const)('%s %j', (command, own, values) => {
    expect(quickExecOptions(command, own)).toEqual(values);
  });
});
