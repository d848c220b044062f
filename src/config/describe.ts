// Words for values and schema alternatives, as they appear in messages about the YAML file.

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true/false',
  object: 'a map',
  array: 'a list',
  null: 'nothing',
};

/** ajv's `type` param (`'number'`, `'string,integer'` or a list) → `a number`, `a string or a whole number`. */
export function describeType(type: unknown): string {
  const types = Array.isArray(type) ? type.map(String) : String(type).split(',');
  return joinOr(types.map((t) => TYPE_WORDS[t] ?? t));
}

/** The value the user wrote, short enough for a message. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 37)}...` : value}'`;
  // What else YAML can hold: numbers and booleans.
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

/** True when every alternative is a map told apart by one required key (`ref` or `build`). */
export function requiredKeyAlternatives(alternatives: readonly unknown[]): string[] | undefined {
  const keys = alternatives.map((a) => (isPlainObject(a) && Array.isArray(a.required) && a.required.length === 1 ? String(a.required[0]) : undefined));
  return alternatives.length > 1 && keys.every((k) => k !== undefined) ? keys : undefined;
}

/** `a string or a list of strings`, `'none' or a map with 'allow'`, `a map with exactly one of 'ref' or 'build'`. */
export function describeAlternatives(alternatives: readonly unknown[]): string {
  const keys = requiredKeyAlternatives(alternatives);
  if (keys !== undefined) return `a map with exactly one of ${quotedOr(keys)}`;
  return joinOr(alternatives.map(describeSchema));
}

/** `'ref' or 'build'` */
export function quotedOr(words: readonly string[]): string {
  return joinOr(words.map((w) => `'${w}'`));
}

function describeSchema(schema: unknown): string {
  if (!isPlainObject(schema)) return 'something else';
  if ('const' in schema) return JSON.stringify(schema.const).replace(/^"(.*)"$/, "'$1'");
  if (schema.type === 'array') {
    const items = isPlainObject(schema.items) ? schema.items.type : undefined;
    return typeof items === 'string' ? `a list of ${TYPE_WORDS[items]?.replace(/^an? /, '') ?? items}s` : 'a list';
  }
  if (schema.type === 'object' && Array.isArray(schema.required) && schema.required.length > 0) {
    return `a map with ${schema.required.map((k) => `'${String(k)}'`).join(' and ')}`;
  }
  return describeType(schema.type);
}

function joinOr(words: readonly string[]): string {
  if (words.length <= 1) return words[0] ?? '';
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}
