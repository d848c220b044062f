// YAML parsing that keeps source positions, so every later problem can point at a line and column.

import { createRequire } from 'node:module';
import type { Document, Node, YAMLError } from 'yaml';
import type * as YamlModule from 'yaml';
import type { Diagnostic, Severity } from '../diagnostics.js';
import { formatPath, type KeyPath } from './key-path.js';

export interface Position {
  line: number;
  col: number;
}

/** The parsed file, able to say where any key path was written. */
export interface ConfigSource {
  /** The file name as diagnostics show it. */
  file: string;
  text: string;
  /** Position of the key (`at: 'key'`) or value at `path`; the nearest written ancestor if the path is absent. */
  locate(path: KeyPath, at: 'key' | 'value'): Position;
}

export interface ParsedYaml {
  source: ConfigSource;
  /** Plain data (undefined when the document is empty or unreadable). */
  data: unknown;
  /** True when the text is not YAML at all; the data cannot be trusted then. */
  broken: boolean;
  diagnostics: Diagnostic[];
}

export function diagnosticAt(source: ConfigSource, severity: Severity, path: KeyPath, at: 'key' | 'value', message: string, hint?: string): Diagnostic {
  const { line, col } = source.locate(path, at);
  const diagnostic: Diagnostic = { severity, message, file: source.file, line, col };
  if (path.length > 0) diagnostic.path = formatPath(path);
  if (hint !== undefined) diagnostic.hint = hint;
  return diagnostic;
}

// The yaml package is some 80 files (about 50 ms to load): it is required on the first parse,
// so a plan answered from the config cache (cache.ts) never loads it.
let loadedYaml: typeof YamlModule | undefined;
const yaml = (): typeof YamlModule => (loadedYaml ??= createRequire(import.meta.url)('yaml') as typeof YamlModule);

export function parseYaml(text: string, file: string): ParsedYaml {
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  // uniqueKeys off: duplicates are reported below with both positions instead of yaml's bare message.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const source: ConfigSource = {
    file,
    text,
    locate: (path, at) => locateNode(doc, lineCounter, path, at),
  };
  const position = (offset: number): Position => lineCounter.linePos(offset);
  const diagnostics: Diagnostic[] = [];
  const seenLines = new Set<number>();
  for (const error of doc.errors) {
    const { line, col } = position(syntaxErrorOffset(doc, error));
    // One broken line often yields several yaml errors; the first says the most.
    if (seenLines.has(line)) continue;
    seenLines.add(line);
    diagnostics.push({ severity: 'error', message: `invalid YAML: ${lowerFirst(error.message)}`, file, line, col, hint: syntaxHint(error) });
  }
  for (const warning of doc.warnings) {
    diagnostics.push({ severity: 'warning', message: `YAML: ${lowerFirst(warning.message)}`, file, ...position(warning.pos[0]) });
  }
  if (doc.errors.length > 0) return { source, data: undefined, broken: true, diagnostics };
  diagnostics.push(...duplicateKeys(doc, source, position));
  return { source, data: toData(doc, source, diagnostics), broken: false, diagnostics };
}

function toData(doc: Document.Parsed, source: ConfigSource, diagnostics: Diagnostic[]): unknown {
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // yaml throws here only for alias bombs and unresolvable aliases: both are the file's fault.
    const message = error instanceof Error ? error.message : String(error);
    diagnostics.push({ severity: 'error', message: `invalid YAML: ${lowerFirst(message)}`, file: source.file, line: 1, col: 1 });
    return undefined;
  }
}

function duplicateKeys(doc: Document.Parsed, source: ConfigSource, position: (offset: number) => Position): Diagnostic[] {
  const { isScalar, visit } = yaml();
  const found: Diagnostic[] = [];
  visit(doc, {
    Map(_, map) {
      const first = new Map<string, Position>();
      for (const pair of map.items) {
        if (!isScalar(pair.key) || !pair.key.range) continue;
        const name = String(pair.key.value);
        const at = position(pair.key.range[0]);
        const earlier = first.get(name);
        if (earlier === undefined) {
          first.set(name, at);
          continue;
        }
        found.push({
          severity: 'error',
          message: `duplicate key '${name}' (first set on line ${earlier.line})`,
          file: source.file,
          ...at,
          hint: `keep one '${name}'; YAML would silently use the last one`,
        });
      }
    },
  });
  return found;
}

/** yaml reports an unclosed quote where the file ends; the opening quote is where the fix goes. */
function syntaxErrorOffset(doc: Document.Parsed, error: YAMLError): number {
  if (error.code !== 'MISSING_CHAR' || !/quote/i.test(error.message)) return error.pos[0];
  let opening = error.pos[0];
  yaml().visit(doc, {
    Scalar(_, scalar) {
      const range = scalar.range;
      const quoted = scalar.type === 'QUOTE_DOUBLE' || scalar.type === 'QUOTE_SINGLE';
      if (quoted && range && range[0] <= error.pos[0] && error.pos[0] <= range[2]) opening = range[0];
    },
  });
  return opening;
}

function syntaxHint(error: YAMLError): string {
  switch (error.code) {
    case 'MISSING_CHAR':
      return /quote/i.test(error.message) ? 'close the quote that starts here' : 'add the missing character';
    case 'BAD_INDENT':
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return 'check the indentation: keys of one map line up in the same column, nested keys go further right';
    case 'TAB_AS_INDENT':
      return 'indent with spaces, not tabs';
    case 'MULTIPLE_DOCS':
      return "the config is a single YAML document: remove the '---' separator";
    default:
      return 'fix the YAML syntax here';
  }
}

function locateNode(doc: Document.Parsed, lineCounter: YamlModule.LineCounter, path: KeyPath, at: 'key' | 'value'): Position {
  const { isAlias, isCollection, isMap, isScalar, isSeq } = yaml();
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  let found = true;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) {
        found = false;
        break;
      }
      keyNode = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      keyNode = undefined;
      node = node.items[segment];
    } else {
      found = false;
      break;
    }
  }
  // A key reads better than the first line of the map or list under it, and than an empty value.
  const valueRange = (node as Node | null)?.range;
  const emptyValue = !valueRange || valueRange[0] === valueRange[1];
  const preferKey = keyNode !== undefined && (at === 'key' || !found || isCollection(node) || emptyValue);
  const range = preferKey ? keyNode?.range : valueRange;
  return range ? lineCounter.linePos(range[0]) : { line: 1, col: 1 };
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
