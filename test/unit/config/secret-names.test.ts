// Secret names: each is the file /run/secrets/NAME (at most 255 characters, Linux's longest file
// name) and, inside the sandbox, the variable NAME upper-cased with every other character than
// A-Z, 0-9 and _ turned into _ (engine/exec-loader.ts): two names that make one variable collide.
import { describe, expect, it } from 'vitest';
import { validateConfigText } from '../../../src/config/index.js';
import { SECRET_LOADER } from '../../../src/engine/exec-loader.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';

function check(...lines: string[]): string[] {
  const text = ['version: 1', 'project: demo', ...lines, ''].join('\n');
  return validateConfigText(text, 'sandboxshift.yaml').diagnostics.map(formatDiagnostic);
}

const RENAME = '\n  hint: rename all but one: inside the sandbox a secret NAME is also the variable NAME upper-cased, with every character other than A-Z, 0-9 and _ turned into _';

describe('secrets that would be one variable', () => {
  it('a.b, a-b and a_b in one environment: one error naming all three and the variable', () => {
    expect(check('environments:', '  one:', '    secrets:', '      a.b: {fromEnv: X}', '      a-b: {fromEnv: X}', '      a_b: {fromEnv: X}')).toEqual([
      `sandboxshift.yaml:7:7: error: secrets 'a.b', 'a-b' and 'a_b' would all be the variable A_B in environment 'one': one would silently replace the others (at environments.one.secrets.a-b)${RENAME}`,
    ]);
  });

  it('two in defaults: reported once, at defaults, not again for every environment', () => {
    expect(check('defaults:', '  secrets:', '    api.key: {fromEnv: X}', '    api-key: {fromFile: ./k}', 'environments:', '  one: {}', '  two: {}')).toEqual([
      `sandboxshift.yaml:6:5: error: secrets 'api.key' and 'api-key' would both be the variable API_KEY: one would silently replace the other (at defaults.secrets.api-key)${RENAME}`,
    ]);
  });

  it('one in defaults and one in an environment: at the environment, which gets both; the same name is an override, and names starting with a digit are not exported', () => {
    expect(
      check(
        'defaults:',
        '  secrets:',
        '    api.key: {fromEnv: X}',
        'environments:',
        '  one:',
        '    secrets:',
        '      api_key: {fromEnv: Y}',
        '  two:',
        '    secrets:',
        '      api.key: {fromEnv: Y}',
        '      1a: {fromEnv: X}',
        '      1-a: {fromEnv: X}',
      ),
    ).toEqual([
      `sandboxshift.yaml:9:7: error: secrets 'api.key' and 'api_key' would both be the variable API_KEY in environment 'one': one would silently replace the other (at environments.one.secrets.api_key)${RENAME}`,
    ]);
  });

  it('secretVariable is what the loader inside the sandbox exports', async () => {
    const { secretVariable } = await import('../../../src/config/secret-checks.js');
    // The loader's own mapping, as the shell runs it: `tr a-z A-Z | tr -c 'A-Z0-9_' '_'`.
    expect(SECRET_LOADER).toContain("tr 'abcdefghijklmnopqrstuvwxyz' 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' | tr -c 'A-Z0-9_' '_'");
    expect(['api_key', 'a.b', 'x-1.y_z', '_t', '9lives'].map(secretVariable)).toEqual(['API_KEY', 'A_B', 'X_1_Y_Z', '_T', null]);
  });
});

describe('secret name length', () => {
  it('256 characters is an error at validate, saying why and what to do', () => {
    const name = 's'.repeat(256);
    expect(check('environments:', '  one:', '    secrets:', `      ${name}: {fromEnv: X}`)).toEqual([
      `sandboxshift.yaml:6:7: error: secret name '${name}' is longer than 255 characters (256) (at environments.one.secrets.${name})\n  hint: shorten it: the secret becomes the file /run/secrets/NAME, and Linux allows no file name longer than 255 bytes`,
    ]);
  });

  it('in defaults too; 255 characters is fine', () => {
    const name = 'd'.repeat(300);
    expect(check('defaults:', '  secrets:', `    ${name}: {fromEnv: X}`, 'environments:', '  one:', '    secrets:', `      ${'k'.repeat(255)}: {fromEnv: X}`)).toEqual([
      `sandboxshift.yaml:5:5: error: secret name '${name}' is longer than 255 characters (300) (at defaults.secrets.${name})\n  hint: shorten it: the secret becomes the file /run/secrets/NAME, and Linux allows no file name longer than 255 bytes`,
    ]);
  });
});

describe('a secret and a plain env variable of one name', () => {
  const CLASH = (v: string, secret: string, env: string) =>
    `error: env ${v} and secret '${secret}' would both be the variable ${v} in environment '${env}': the secret would silently replace the value`;
  const HINT = (v: string) => `\n  hint: rename the variable or the secret (a secret NAME is also the variable NAME upper-cased), or drop ${v} from env if the secret is meant to set it`;

  it("is an error at the env key, the environment's own or one from defaults", () => {
    expect(check('environments:', '  one:', '    env: { API_KEY: placeholder }', '    secrets:', '      api_key: {fromEnv: X}')).toEqual([
      `sandboxshift.yaml:5:12: ${CLASH('API_KEY', 'api_key', 'one')} (at environments.one.env.API_KEY)${HINT('API_KEY')}`,
    ]);
    expect(check('defaults:', '  env: { TOKEN: x }', 'environments:', '  one:', '    secrets:', '      token: {fromEnv: X}', '  two: {}')).toEqual([
      `sandboxshift.yaml:4:10: ${CLASH('TOKEN', 'token', 'one')} (at defaults.env.TOKEN)${HINT('TOKEN')}`,
    ]);
  });

  it('is no error for names that differ once upper-cased (env keys are case-sensitive), or a secret that is not exported', () => {
    expect(check('environments:', '  one:', '    env: { api_key: a, _9LIVES: b }', '    secrets:', '      api_key: {fromEnv: X}', '      9lives: {fromEnv: X}')).toEqual([]);
  });
});
