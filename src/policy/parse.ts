// Reading a policy file (YAML or JSON) for `policy set`: positioned errors like `validate`'s,
// checked against schemas/policy.schema.json, then units parsed. And reading the document back
// from the engine, where it was stored only after passing these checks.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import { errorDiag, hasErrors, type Diagnostic } from '../diagnostics.js';
import { describeSchemaErrors } from '../config/schema-errors.js';
import { parseDuration, parseMemory } from '../config/units.js';
import { canonicalJson, sha256 } from '../model/hash.js';
import { isPlainObject } from '../config/describe.js';
import { diagnosticAt, parseYaml } from '../config/yaml-source.js';
import type { Policy, Totals } from './types.js';

/** Two folders up from both src/policy/ and dist/policy/; package.json ships `schemas/`. */
export const POLICY_SCHEMA_FILE = fileURLToPath(new URL('../../schemas/policy.schema.json', import.meta.url));

/** The most a policy document may hold, as canonical JSON: it is stored in one label. */
export const MAX_POLICY_BYTES = 64 * 1024;

export interface ParsedPolicy {
  policy?: Policy;
  /** Canonical JSON of the document; present with `policy`. */
  document?: string;
  hash?: string;
  diagnostics: Diagnostic[];
}

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
let validator: Validator | undefined;

/** ajv compiles the small policy schema on first use: only `policy set` needs it. */
function validatePolicySchema(data: unknown): ErrorObject[] {
  if (!validator) {
    const require = createRequire(import.meta.url);
    const Ajv = (require('ajv/dist/2020.js') as { default: new (o: object) => { compile(s: unknown): Validator } }).default;
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
    validator = ajv.compile(JSON.parse(readFileSync(POLICY_SCHEMA_FILE, 'utf8')));
  }
  return validator(data) ? [] : [...(validator.errors ?? [])];
}

/** The largest policy file read at all (a policy is at most MAX_POLICY_BYTES as JSON; YAML may be roomier). */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

export function parsePolicyFile(file: string): ParsedPolicy {
  const hint = 'pass the path of a policy file (YAML or JSON), e.g. `sandboxshift policy set policy.yaml`';
  let text: string;
  try {
    // A device or FIFO (/dev/zero, a pipe) would never end: only a regular file of sane size is read.
    const stat = statSync(file);
    if (!stat.isFile()) return { diagnostics: [errorDiag(`policy file '${file}' is ${stat.isDirectory() ? 'a folder' : 'not a regular file'}`, { file, hint })] };
    if (stat.size > MAX_POLICY_FILE_BYTES)
      return {
        diagnostics: [
          errorDiag(`policy file '${file}' is ${stat.size} bytes, more than the ${MAX_POLICY_FILE_BYTES} a policy file may be`, {
            file,
            hint: 'a policy is a few rules: check that this is the right file',
          }),
        ],
      };
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`;
    return { diagnostics: [errorDiag(`policy file '${file}' ${why}`, { file, hint })] };
  }
  return parsePolicyText(text, file);
}

export function parsePolicyText(text: string, file: string): ParsedPolicy {
  const parsed = parseYaml(text, file);
  if (parsed.broken || hasErrors(parsed.diagnostics)) return { diagnostics: parsed.diagnostics };
  const data = parsed.data;
  if (data === undefined || data === null) return { diagnostics: [errorDiag('the policy file is empty', { file, line: 1, col: 1, hint: 'start with `version: 1` and the rules to enforce' })] };
  const diagnostics = [...parsed.diagnostics, ...describeSchemaErrors(validatePolicySchema(data), data, parsed.source)];
  if (hasErrors(diagnostics)) return { diagnostics };
  const root = data as Record<string, unknown>;
  // A maximum idle time means nothing with idle allowed to be `never`: required follows.
  const maxIdle = isPlainObject(root.idle) && typeof root.idle.maxStopAfter === 'string' ? parseDuration(root.idle.maxStopAfter) : undefined;
  if (maxIdle === 0) diagnostics.push(diagnosticAt(parsed.source, 'error', ['idle', 'maxStopAfter'], 'value', 'idle.maxStopAfter must be more than 0s', 'write a duration such as 8h'));
  if (hasErrors(diagnostics)) return { diagnostics };
  const document = canonicalJson(data);
  if (Buffer.byteLength(document) > MAX_POLICY_BYTES) {
    return {
      diagnostics: [
        errorDiag(`the policy is ${Buffer.byteLength(document)} bytes as JSON, more than the ${MAX_POLICY_BYTES} an engine record holds`, {
          file,
          hint: 'merge patterns (e.g. `team/**` instead of one per repository)',
        }),
      ],
    };
  }
  return { policy: policyFromDocument(data), document, hash: sha256(document), diagnostics };
}

/** The parsed rules of a document that passed the schema (units turned into numbers). */
export function policyFromDocument(data: unknown): Policy {
  const root = data as Record<string, Record<string, unknown> | undefined> & { runtime?: 'runc' | 'runsc'; allowDangerous?: Policy['allowDangerous'] };
  const totals = (t: Record<string, unknown> | undefined): Totals | undefined =>
    t && { environments: t.environments as number | undefined, cpus: t.cpus as number | undefined, memoryBytes: memory(t.memory) };
  const policy: Policy = {
    images: root.images && { allow: root.images.allow as string[] | undefined, digestPinnedOnly: root.images.digestPinnedOnly as boolean | undefined },
    runtime: root.runtime,
    environment: root.environment && { cpus: root.environment.cpus as number | undefined, memoryBytes: memory(root.environment.memory), pids: root.environment.pids as number | undefined },
    project: totals(root.project),
    engine: totals(root.engine),
    egress: root.egress && { deny: root.egress.deny as string[] | undefined, maxEntries: root.egress.maxEntries as number | undefined },
    allowDangerous: root.allowDangerous,
    idle: root.idle && {
      required: (root.idle.required as boolean | undefined) ?? (root.idle.maxStopAfter !== undefined ? true : undefined),
      maxStopAfterSeconds: typeof root.idle.maxStopAfter === 'string' ? (parseDuration(root.idle.maxStopAfter) ?? undefined) : undefined,
    },
  };
  return JSON.parse(canonicalJson(policy)) as Policy;
}

function memory(value: unknown): number | undefined {
  return typeof value === 'string' || typeof value === 'number' ? parseMemory(value) : undefined;
}
