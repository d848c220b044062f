// Turns ajv's errors into one plain message per problem, positioned on the YAML node.
// ajv reports every failed alternative of a oneOf; people need to hear about the one they meant.

import type { ErrorObject } from 'ajv';
import type { Diagnostic } from '../diagnostics.js';
import { explainPatternMismatch, tooLongExplanation, type Explanation } from './format-messages.js';
import { pointerToPath, subjectOf, type KeyPath } from './key-path.js';
import { closestMatch, didYouMean } from './suggest.js';
import { diagnosticAt, type ConfigSource } from './yaml-source.js';
import { describeAlternatives, describeType, describeValue, isPlainObject, quotedOr, requiredKeyAlternatives } from './describe.js';

type Problem = { kind: 'error'; error: ErrorObject } | { kind: 'no-alternative'; composite: ErrorObject };

export function describeSchemaErrors(errors: readonly ErrorObject[], data: unknown, source: ConfigSource): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const problem of simplify(errors, errors)) {
    const diagnostic = toDiagnostic(problem, data, source);
    if (diagnostic === undefined) continue;
    const key = `${diagnostic.line}:${diagnostic.col}:${diagnostic.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    diagnostics.push(diagnostic);
  }
  return diagnostics;
}

const isComposite = (e: ErrorObject): boolean => e.keyword === 'oneOf' || e.keyword === 'anyOf';

function isInside(error: ErrorObject, composite: ErrorObject): boolean {
  const samePlace = error.instancePath === composite.instancePath || error.instancePath.startsWith(`${composite.instancePath}/`);
  return error !== composite && samePlace && error.schemaPath.startsWith(`${composite.schemaPath}/`);
}

/** The errors worth reporting from `errors`, with each failed oneOf/anyOf reduced to its intended branch. */
function simplify(errors: readonly ErrorObject[], all: readonly ErrorObject[]): Problem[] {
  const composites = errors.filter(isComposite);
  const outermost = errors.filter((e) => !composites.some((c) => isInside(e, c)));
  return outermost.flatMap((e) => (isComposite(e) ? resolveComposite(e, all) : [{ kind: 'error' as const, error: e }]));
}

function resolveComposite(composite: ErrorObject, all: readonly ErrorObject[]): Problem[] {
  const alternatives = Array.isArray(composite.schema) ? (composite.schema as unknown[]) : [];
  const branches = alternatives.map(() => [] as ErrorObject[]);
  for (const error of all) {
    if (!isInside(error, composite)) continue;
    const index = Number(error.schemaPath.slice(composite.schemaPath.length + 1).split('/')[0]);
    branches[index]?.push(error);
  }
  const value = composite.data;
  const noAlternative: Problem[] = [{ kind: 'no-alternative', composite }];

  // Maps told apart by a required key (`ref` or `build`, `fromEnv` or `fromFile`): the keys present say which was meant.
  const requiredKeys = alternatives.map((a) => (isPlainObject(a) && Array.isArray(a.required) ? (a.required as string[]) : undefined));
  if (isPlainObject(value) && requiredKeys.every((keys) => keys !== undefined)) {
    const meant = requiredKeys.flatMap((keys, i) => (keys?.every((k) => k in value) ? [i] : []));
    const branch = meant.length === 1 ? branches[meant[0] ?? -1] : undefined;
    // An empty branch passed: the oneOf failed because several did, and only the summary says so.
    return branch && branch.length > 0 ? simplify(branch, all) : noAlternative;
  }

  // Alternatives told apart by type (string or list, `none` or a map): keep the one whose type fits.
  const typeFits = branches.flatMap((branch, i) => (branch.some((e) => e.keyword === 'type' && e.instancePath === composite.instancePath) ? [] : [i]));
  const branch = typeFits.length === 1 ? branches[typeFits[0] ?? -1] : undefined;
  // A wrong constant (`egress: all`) is better answered by listing every alternative.
  if (!branch || branch.length === 0 || branch.every((e) => e.keyword === 'const' && e.instancePath === composite.instancePath)) return noAlternative;
  return simplify(branch, all);
}

function toDiagnostic(problem: Problem, data: unknown, source: ConfigSource): Diagnostic | undefined {
  if (problem.kind === 'no-alternative') {
    const { composite } = problem;
    const path = pointerToPath(composite.instancePath, data);
    const alternatives = Array.isArray(composite.schema) ? (composite.schema as unknown[]) : [];
    const keys = requiredKeyAlternatives(alternatives);
    const value = composite.data;
    if (keys !== undefined && isPlainObject(value)) {
      const present = keys.filter((k) => k in value);
      const hint = present.length > 1 ? `keep only one of ${quotedOr(present)}` : `add ${quotedOr(keys)}`;
      return diagnosticAt(source, 'error', path, 'value', `${subjectOf(path)} must have exactly one of ${quotedOr(keys)}`, hint);
    }
    const message = `${subjectOf(path)} must be ${describeAlternatives(alternatives)}, not ${shownValue(path, value)}`;
    return diagnosticAt(source, 'error', path, 'value', message);
  }
  const { error } = problem;
  const path = pointerToPath(error.instancePath, data);
  if (error.keyword === 'propertyNames') return undefined; // its inner error names the key; this one adds nothing
  if (error.propertyName !== undefined) {
    const keyPath = [...path, error.propertyName];
    const explained = explain(error, keyPath, `${nameKind(path)} '${error.propertyName}'`);
    return diagnosticAt(source, 'error', keyPath, 'key', explained.message, explained.hint);
  }
  if (error.keyword === 'additionalProperties') {
    const key = String(error.params.additionalProperty);
    const keyPath = [...path, key];
    const explained = unknownKey(key, path, error);
    return diagnosticAt(source, 'error', keyPath, 'key', explained.message, explained.hint);
  }
  const explained = explain(error, path, subjectOf(path));
  return diagnosticAt(source, 'error', path, 'value', explained.message, explained.hint);
}

function unknownKey(key: string, parent: KeyPath, error: ErrorObject): Explanation {
  if (key === 'protect' && parent.length === 1 && parent[0] === 'defaults') {
    return {
      message: "'protect' cannot be set in defaults",
      hint: 'set protect: true on each environment that must not be destroyed',
    };
  }
  const properties: unknown = error.parentSchema?.properties;
  const allowed = isPlainObject(properties) ? Object.keys(properties) : [];
  const suggestion = didYouMean(key, allowed);
  return {
    message: `unknown key '${key}'${suggestion}`,
    hint: suggestion === '' && allowed.length > 0 ? `allowed keys here: ${allowed.join(', ')}` : undefined,
  };
}

/** A value as an error shows it; under `secrets`, a `pullSecret` or a `pushSecret` a string or number may be the secret itself, so only its kind. */
function shownValue(path: KeyPath, value: unknown): string {
  const secret = path.some((p) => p === 'secrets' || p === 'pullSecret' || p === 'pushSecret');
  if (secret && (typeof value === 'string' || typeof value === 'number')) return `a ${typeof value} (value hidden: a secret is named by fromEnv or fromFile, never written here)`;
  return describeValue(value);
}

function explain(error: ErrorObject, path: KeyPath, subject: string): Explanation {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type':
      // `key:` with nothing after it is a common slip; "got nothing" alone would not say which key.
      if (error.data === null) return { message: `${subject} has no value: expected ${describeType(params.type)}` };
      return { message: `expected ${describeType(params.type)}, got ${shownValue(path, error.data)}` };
    case 'required': {
      const missing = String(params.missingProperty);
      const properties: unknown = error.parentSchema?.properties;
      const property = isPlainObject(properties) ? properties[missing] : undefined;
      const description = isPlainObject(property) && typeof property.description === 'string' ? property.description : undefined;
      const where = path.length === 0 ? '' : ` in ${subjectOf(path)}`;
      return { message: `missing required key '${missing}'${where}`, hint: description && `'${missing}': ${description}` };
    }
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.map(String) : [];
      const guess = typeof error.data === 'string' ? closestMatch(error.data, allowed) : undefined;
      return { message: `${subject} must be one of: ${allowed.join(', ')}`, hint: guess && `did you mean '${guess}'?` };
    }
    case 'const':
      return { message: `${subject} must be ${JSON.stringify(params.allowedValue)}, not ${describeValue(error.data)}` };
    case 'pattern':
      return explainPatternMismatch(String(params.pattern), error.data, subject);
    case 'minimum':
      return { message: `${subject} must be at least ${String(params.limit)}, not ${describeValue(error.data)}` };
    case 'exclusiveMinimum':
      return { message: `${subject} must be more than ${String(params.limit)}, not ${describeValue(error.data)}` };
    case 'minLength':
    case 'minItems':
      return { message: `${subject} must not be empty` };
    case 'maxLength':
      return tooLongExplanation(subject, Number(params.limit), error.data, path);
    case 'uniqueItems': {
      const items = Array.isArray(error.data) ? error.data : [];
      return { message: `${subject} lists ${describeValue(items[Number(params.i)])} twice` };
    }
    default:
      return { message: `${subject} ${error.message ?? 'is not valid'}` };
  }
}

/** What a map's keys are called, for messages about a badly formed key. */
function nameKind(mapPath: KeyPath): string {
  const kinds: Record<string, string> = {
    environments: 'environment name',
    images: 'image name',
    env: 'variable',
    secrets: 'secret name',
    args: 'build argument name',
  };
  const last = mapPath[mapPath.length - 1];
  return (typeof last === 'string' ? kinds[last] : undefined) ?? 'key';
}
