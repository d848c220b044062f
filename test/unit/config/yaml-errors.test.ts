import { describe, expect, it } from 'vitest';
import { validateConfigText } from '../../../src/config/index.js';
import { formatDiagnostic } from '../../../src/diagnostics.js';

function check(text: string): string[] {
  const { config, diagnostics } = validateConfigText(text, 'sandboxshift.yaml');
  expect(config).toBeUndefined();
  return diagnostics.map(formatDiagnostic);
}

describe('broken YAML is a positioned diagnostic, never a throw', () => {
  it('an unclosed quote points at the opening quote', () => {
    expect(check('version: 1\nproject: "demo\nenvironments:\n  a: {}\n')).toEqual(['sandboxshift.yaml:2:10: error: invalid YAML: missing closing "quote\n  hint: close the quote that starts here']);
  });

  it('a key indented less than its siblings', () => {
    const text = ['version: 1', 'project: demo', 'environments:', '  a:', '    image: auto', '   runtime: runc', ''].join('\n');
    expect(check(text)).toEqual([
      'sandboxshift.yaml:6:1: error: invalid YAML: all mapping items must start at the same column\n  hint: check the indentation: keys of one map line up in the same column, nested keys go further right',
    ]);
  });

  it('a value indented more than its key allows', () => {
    const text = ['version: 1', 'project: demo', 'environments:', '  a:', '    image: auto', '      runtime: runc', ''].join('\n');
    expect(check(text)).toEqual([
      'sandboxshift.yaml:5:12: error: invalid YAML: nested mappings are not allowed in compact mappings\n  hint: check the indentation: keys of one map line up in the same column, nested keys go further right',
    ]);
  });

  it('tabs used for indentation', () => {
    expect(check('version: 1\nproject: demo\nenvironments:\n\ta: {}\n')).toEqual([
      'sandboxshift.yaml:4:1: error: invalid YAML: tabs are not allowed as indentation\n  hint: indent with spaces, not tabs',
    ]);
  });

  it('more than one document', () => {
    expect(check('version: 1\n---\nproject: demo\n')).toEqual([
      "sandboxshift.yaml:2:1: error: invalid YAML: source contains multiple documents; please use YAML.parseAllDocuments()\n  hint: the config is a single YAML document: remove the '---' separator",
    ]);
  });

  it('an empty file', () => {
    expect(check('# nothing yet\n')).toEqual(['sandboxshift.yaml:1:1: error: the config file is empty\n  hint: start with `version: 1`, `project: NAME` and an `environments:` map']);
  });

  it('a list where the top-level map should be', () => {
    expect(check('- version: 1\n')).toEqual(['sandboxshift.yaml:1:1: error: expected a map, got a list']);
  });
});

describe('duplicate keys', () => {
  it('are errors that name the first occurrence, reported with the other problems', () => {
    const text = ['version: 1', 'project: demo', 'environments:', '  a:', '    image: auto', '    image: other', '  a: {}', '  b:', '    runtime: fast', ''].join('\n');
    expect(check(text)).toEqual([
      "sandboxshift.yaml:6:5: error: duplicate key 'image' (first set on line 5)\n  hint: keep one 'image'; YAML would silently use the last one",
      "sandboxshift.yaml:7:3: error: duplicate key 'a' (first set on line 4)\n  hint: keep one 'a'; YAML would silently use the last one",
      "sandboxshift.yaml:9:14: error: 'runtime' must be one of: runc, runsc (at environments.b.runtime)",
    ]);
  });
});
