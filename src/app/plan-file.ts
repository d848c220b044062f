// Saved plan files (`plan --out FILE`, `apply FILE`): the JSON plan plus a checksum over its
// content. They hold no secret values. Written to a new file (mode 0600) in FILE's folder and
// renamed over FILE: the mode is always 0600, a symlink at FILE is replaced and never followed,
// and a reader never sees half a plan. FILE may replace only a saved plan (told by its content:
// a JSON plan object, see isPlanText); anything else there (the config, a folder, a FIFO, a
// device) is refused before the engine is asked, and a failed write names FILE and why. Read
// back, a file must be a plan of this format, match schemas/plan.schema.json, and still carry
// the checksum it was saved with: a file edited by hand is *tampered*, which is a different
// thing from *stale* (the config or the engine changed since; app/converge.ts checks that
// against a fresh plan).
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { hashOf } from '../model/hash.js';
import type { Plan } from '../plan/types.js';
import { PLAN_FORMAT_VERSION, changeShapeProblem, planFromJson, planToJson, type JsonPlan } from '../render/json.js';

/** Two folders up from both src/app/ and dist/app/; package.json ships `schemas/`. */
export const PLAN_SCHEMA_FILE = fileURLToPath(new URL('../../schemas/plan.schema.json', import.meta.url));

const NEW_PLAN = 'make a new one with `sandboxshift plan --out FILE` and review it';

/** The checksum a saved plan carries: sha256 of the canonical JSON of everything else in it. */
export function planChecksum(json: object): string {
  const content: Record<string, unknown> = { ...(json as Record<string, unknown>) };
  delete content.checksum;
  return `sha256:${hashOf(content)}`;
}

/** A file larger than this is no saved plan of ours (one of 1,000 environments is a few MB). */
const MAX_PLAN_BYTES = 256 * 1024 * 1024;

const OTHER_NAME = 'choose another file name for --out';

/**
 * Refuses a `--out` destination a saved plan may not go to: an empty name, a folder, a FIFO,
 * socket or device, a missing folder, or an existing file that is not a saved plan. A symlink
 * is fine: it is replaced, not followed. Called before planning and again right before writing.
 */
export function checkPlanDestination(path: string): void {
  const refuse = (why: string, hint = OTHER_NAME): never => {
    throw new DiagnosticsError([errorDiag(why, { hint })]);
  };
  if (path === '') refuse('--out needs a file name; it was given an empty one', 'sandboxshift plan --out tfplan.json');
  if (path.endsWith('/')) refuse(`cannot save the plan to ${path}: it names a folder, not a file`, `name a file in it, e.g. --out ${join(path, 'tfplan.json')}`);
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return refuse(saveFailure(path, err));
    // A new file: its folder must be there.
    const dir = dirname(path);
    let folder: Stats;
    try {
      folder = statSync(dir);
    } catch (dirErr) {
      return refuse(saveFailure(path, dirErr));
    }
    if (!folder.isDirectory()) refuse(`cannot save the plan to ${path}: ${dir} is not a folder`);
    return;
  }
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) refuse(`cannot save the plan to ${path}: it is a folder`, `name a file in it, e.g. --out ${join(path, 'tfplan.json')}, or choose another file name`);
  if (!st.isFile()) refuse(`cannot save the plan to ${path}: it is ${specialKind(st)}, not a regular file`);
  if (!holdsSavedPlan(path))
    refuse(`cannot save the plan to ${path}: it exists and is not a saved plan (sandboxshift replaces only a plan it saved)`, `${OTHER_NAME}, or remove ${path} first if it is not needed`);
}

/** Writes `plan` to `path` as a saved plan (see the header): a new 0600 file renamed over `path`. */
export function writePlanFile(path: string, plan: Plan): void {
  checkPlanDestination(path);
  const json = planToJson(plan);
  const text = `${JSON.stringify({ ...json, checksum: planChecksum(json) }, null, 2)}\n`;
  // Short, so a long FILE name never makes it too long; O_EXCL: never an existing file.
  const temp = join(dirname(path), `.sandboxshift-plan-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | null = null;
  let made = false;
  try {
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    made = true;
    fchmodSync(fd, 0o600); // whatever the umask
    writeFileSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(temp, path);
  } catch (err) {
    if (fd !== null) closeSync(fd);
    // Only the file made here: a failed O_EXCL open is someone else's.
    if (made) rmSync(temp, { force: true });
    throw new DiagnosticsError([errorDiag(saveFailure(path, err), { hint: OTHER_NAME })]);
  }
}

/** Whether the regular file at `path` is a JSON plan (saved, or printed by `plan --json`): its format marker and changes. */
function holdsSavedPlan(path: string): boolean {
  let fd: number;
  try {
    // Not following a symlink and not blocking: what lstat saw may have been swapped since.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw new DiagnosticsError([
      errorDiag(`cannot save the plan to ${path}: it exists and cannot be read to check that it is a saved plan (${(err as NodeJS.ErrnoException).code})`, { hint: OTHER_NAME }),
    ]);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_PLAN_BYTES) return false;
    return isPlanText(readFileSync(fd, 'utf8'));
  } finally {
    closeSync(fd);
  }
}

/** A plan JSON object of any format version: `format_version`, `sandboxshift_version` and `resource_changes`. */
export function isPlanText(text: string): boolean {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return false;
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return false;
  const j = json as Record<string, unknown>;
  return typeof j.format_version === 'string' && typeof j.sandboxshift_version === 'string' && Array.isArray(j.resource_changes);
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function specialKind(st: Stats): string {
  return st.isFIFO() ? 'a FIFO (named pipe)' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : 'not a regular file';
}

/** A failed write or check, naming `path` (the user's --out), never the temporary file. */
function saveFailure(path: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const dir = dirname(path);
  const why: Record<string, string> = {
    ENOENT: `folder ${dir} does not exist`,
    ENOTDIR: `a part of ${dir} is not a folder`,
    EACCES: `permission denied in folder ${dir}`,
    EPERM: `permission denied in folder ${dir}`,
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EROFS: `${dir} is on a read-only file system`,
    EISDIR: 'it is a folder',
    ENAMETOOLONG: 'the name is too long',
  };
  const code = typeof e?.code === 'string' ? e.code : 'error';
  // The folder is there, yet no file may be made in it (/proc).
  if (code === 'ENOENT' && isFolder(dir)) why.ENOENT = `no file can be made in folder ${dir}`;
  const reason =
    why[code] ??
    String(e?.message ?? err)
      .replace(/^[A-Z0-9_]+: /, '')
      .replace(/, [a-z_]+ '.*'$/s, '');
  return `cannot save the plan to ${path}: ${reason} (${code})`;
}

export function readPlanFile(path: string): Plan {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DiagnosticsError([errorDiag(`cannot read plan file ${path} (${(err as NodeJS.ErrnoException).code})`, { hint: 'make one with `sandboxshift plan --out FILE`' })]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DiagnosticsError([errorDiag(`${path} is not a saved plan (not JSON)`, { hint: 'make one with `sandboxshift plan --out FILE`' })]);
  }
  const version = json && typeof json === 'object' ? (json as { format_version?: unknown }).format_version : undefined;
  if (version !== PLAN_FORMAT_VERSION) {
    throw new DiagnosticsError([
      errorDiag(`${path} is not a saved plan of format ${PLAN_FORMAT_VERSION} (found ${String(version)})`, {
        hint: 'make a new one with `sandboxshift plan --out FILE`',
      }),
    ]);
  }
  const invalid = firstSchemaError(json) ?? changeShapeProblem((json as JsonPlan).resource_changes);
  if (invalid) {
    throw new DiagnosticsError([errorDiag(`${path} is not a valid saved plan: ${invalid}`, { hint: NEW_PLAN })]);
  }
  const saved = json as JsonPlan & { checksum?: string };
  if (saved.checksum === undefined) {
    throw new DiagnosticsError([
      errorDiag(`${path} has no checksum, so it cannot be told apart from a hand-edited file (a \`plan --json\` output, or saved by an older sandboxshift)`, { hint: NEW_PLAN }),
    ]);
  }
  if (saved.checksum !== planChecksum(saved)) {
    throw new DiagnosticsError([errorDiag(`saved plan ${path} is tampered: it was edited after it was saved (its checksum no longer matches its content), so it was not applied`, { hint: NEW_PLAN })]);
  }
  return planFromJson(saved);
}

/** The first way `json` breaks the plan schema, as `at /path: message`, or null. */
function firstSchemaError(json: unknown): string | null {
  const validate = planValidator();
  if (validate(json)) return null;
  const e: ErrorObject | undefined = validate.errors?.[0];
  if (!e) return 'does not match the schema';
  const where = e.instancePath || '(top level)';
  const detail =
    e.keyword === 'enum'
      ? `: ${(e.params as { allowedValues: unknown[] }).allowedValues.map(String).join(', ')}`
      : e.keyword === 'additionalProperties'
        ? ` '${(e.params as { additionalProperty: string }).additionalProperty}'`
        : '';
  return `at ${where}: ${e.message ?? 'is invalid'}${detail}`;
}

let compiled: ValidateFunction | null = null;

/** Compiled on first use: only `apply FILE` pays for ajv, never plan's hot path. */
function planValidator(): ValidateFunction {
  if (compiled) return compiled;
  // ajv is CommonJS; require() gives its class without ESM default-interop guesswork.
  const Ajv2020 = createRequire(import.meta.url)('ajv/dist/2020.js') as { default: new (options: object) => { compile(schema: object): ValidateFunction } };
  const schema = JSON.parse(readFileSync(PLAN_SCHEMA_FILE, 'utf8')) as object;
  compiled = new Ajv2020.default({ allErrors: false, strict: false }).compile(schema);
  return compiled;
}
