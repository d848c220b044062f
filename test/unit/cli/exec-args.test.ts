// exec's options stop at ENV: what follows is the command's, its own flags included.
import { describe, expect, it } from 'vitest';
import { splitExecArgs } from '../../../src/cli/commands/exec.js';

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
