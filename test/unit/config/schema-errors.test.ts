import { describe, expect, it } from 'vitest';
import { validateConfigText } from '../../../src/config/index.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';

/** The formatted diagnostics for a config written line by line. */
function check(...lines: string[]): string[] {
  const { config, diagnostics } = validateConfigText(lines.join('\n') + '\n', 'sandboxshift.yaml');
  if (diagnostics.some((d) => d.severity === 'error')) expect(config).toBeUndefined();
  return diagnostics.map(formatDiagnostic);
}

const HEAD = ['version: 1', 'project: demo'];

describe('schema errors', () => {
  it('points at a misspelt key and suggests the right one', () => {
    expect(check(...HEAD, 'enviroments:', '  a: {}')).toEqual(["sandboxshift.yaml:3:1: error: unknown key 'enviroments' — did you mean 'environments'? (at enviroments)"]);
  });

  it('suggests keys of the map the typo is in', () => {
    expect(check(...HEAD, 'environments:', '  a:', '    resources:', '      cpu: 2')).toEqual([
      "sandboxshift.yaml:6:7: error: unknown key 'cpu' — did you mean 'cpus'? (at environments.a.resources.cpu)",
    ]);
  });

  it('lists the allowed keys when nothing is close', () => {
    expect(check(...HEAD, 'environments:', '  a:', '    idle: {stopAfter: 1h, zzz: 1}')).toEqual([
      "sandboxshift.yaml:5:27: error: unknown key 'zzz' (at environments.a.idle.zzz)\n  hint: allowed keys here: stopAfter, action, cpuPercent",
    ]);
  });

  it('reports a wrong type at the value', () => {
    expect(check(...HEAD, 'environments:', '  a:', '    resources:', '      cpus: two')).toEqual(["sandboxshift.yaml:6:13: error: expected a number, got 'two' (at environments.a.resources.cpus)"]);
  });

  it('names the key of an empty value', () => {
    expect(check(...HEAD, 'environments:', '  a:', '    env:', '      TOKEN:')).toEqual([
      "sandboxshift.yaml:6:7: error: 'TOKEN' has no value: expected a string, a number or true/false (at environments.a.env.TOKEN)",
    ]);
  });

  it('lists the allowed values of an enum and guesses the intended one', () => {
    expect(check(...HEAD, 'environments:', '  a:', '    runtime: runcs')).toEqual([
      "sandboxshift.yaml:5:14: error: 'runtime' must be one of: runc, runsc (at environments.a.runtime)\n  hint: did you mean 'runc'?",
    ]);
  });

  it('requires version 1 and a project', () => {
    expect(check('version: 2', 'environments: {}')).toEqual([
      "sandboxshift.yaml:1:1: error: missing required key 'project'\n  hint: 'project': Project name: prefixes every container, network and volume that SandboxShift manages (lowercase letters, digits and '-', at most 40 characters).",
      "sandboxshift.yaml:1:10: error: 'version' must be 1, not 2 (at version)",
    ]);
  });

  it('explains a bad name and offers a fixed one', () => {
    expect(check('version: 1', 'project: My_Project', 'environments: {a: {}}')).toEqual([
      "sandboxshift.yaml:2:10: error: 'project' must be lowercase letters, digits and '-', start with a letter or digit, and be at most 40 characters (at project)\n  hint: try 'my-project' (names become parts of container, network and volume names)",
    ]);
  });

  it('points at a badly named environment key', () => {
    expect(check(...HEAD, 'environments:', '  Web_App: {}')).toEqual([
      "sandboxshift.yaml:4:3: error: environment name 'Web_App' must be lowercase letters, digits and '-', start with a letter or digit, and be at most 40 characters (at environments.Web_App)\n  hint: try 'web-app' (names become parts of container, network and volume names)",
    ]);
  });

  it('refuses protect in defaults with advice', () => {
    expect(check(...HEAD, 'defaults:', '  protect: true', 'environments:', '  a: {}')).toEqual([
      "sandboxshift.yaml:4:3: error: 'protect' cannot be set in defaults (at defaults.protect)\n  hint: set protect: true on each environment that must not be destroyed",
    ]);
  });
});

describe('alternatives (oneOf) are reported once, for the intended branch', () => {
  it('an image with both ref and build', () => {
    expect(check(...HEAD, 'images:', '  py:', '    ref: python:3', '    build: {context: .}', 'environments: {a: {image: py}}')).toEqual([
      "sandboxshift.yaml:4:3: error: image 'py' must have exactly one of 'ref' or 'build' (at images.py)\n  hint: keep only one of 'ref' or 'build'",
    ]);
  });

  it('a build missing its context is reported inside build', () => {
    expect(check(...HEAD, 'images:', '  py:', '    build:', '      contxt: .', 'environments:', '  a: {image: py}')).toEqual([
      "sandboxshift.yaml:5:5: error: missing required key 'context' in 'build' (at images.py.build)\n  hint: 'context': Build context folder, relative to this file.",
      "sandboxshift.yaml:6:7: error: unknown key 'contxt' — did you mean 'context'? (at images.py.build.contxt)",
    ]);
  });

  it('a secret with neither source', () => {
    expect(check(...HEAD, 'environments:', '  a:', '    secrets:', '      token: {fromEnvironment: X}')).toEqual([
      "sandboxshift.yaml:6:7: error: secret 'token' must have exactly one of 'fromEnv' or 'fromFile' (at environments.a.secrets.token)\n  hint: add 'fromEnv' or 'fromFile'",
    ]);
  });

  it('egress that is neither none nor a map', () => {
    expect(check(...HEAD, 'environments:', '  a:', '    egress: all')).toEqual(["sandboxshift.yaml:5:13: error: 'egress' must be 'none' or a map with 'allow', not 'all' (at environments.a.egress)"]);
  });

  it('egress allow that is not a list', () => {
    expect(check(...HEAD, 'environments:', '  a:', '    egress: {allow: pypi.org}')).toEqual(["sandboxshift.yaml:5:21: error: expected a list, got 'pypi.org' (at environments.a.egress.allow)"]);
  });

  it('a command of the wrong type, and an empty one', () => {
    expect(check(...HEAD, 'environments:', '  a: {command: 3}', '  b: {command: []}')).toEqual([
      "sandboxshift.yaml:4:16: error: 'command' must be a string or a list of strings, not 3 (at environments.a.command)",
      "sandboxshift.yaml:5:7: error: 'command' must not be empty (at environments.b.command)",
    ]);
  });
});
