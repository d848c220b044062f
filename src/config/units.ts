// Sizes and durations as people write them in sandboxshift.yaml.
// The patterns are also in schemas/sandboxshift.schema.json (editors check them as you type);
// a unit test keeps the two copies equal.

/** Docker refuses a memory limit below 6 MiB. */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
/** A ceiling no machine reaches (1 PiB); the engine's own MemTotal is checked at plan time. */
export const MAX_MEMORY_BYTES = 1024 ** 5;
/** Docker's CPU quota granularity: it refuses less than 0.01 CPUs. */
export const MIN_CPUS = 0.01;
/** The most CPUs a limit may name; the engine's own NCPU is checked at plan time. */
export const MAX_CPUS = 1024;
/** Linux's pid_max ceiling (2^22). */
export const MAX_PIDS = 4194304;

export const MEMORY_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]?|[bB])?$';
export const DURATION_PATTERN = '^(never|([0-9]+[dhms])+)$';

const MEMORY_RE = new RegExp(MEMORY_PATTERN);
const DURATION_RE = new RegExp(DURATION_PATTERN);

// Binary multiples for every spelling, the way `docker run --memory` reads them: `1g`, `1gb`,
// `1Gi` and `1GiB` all mean 2^30 bytes. Mixing in decimal `GB` would make the same text mean
// a different limit here and in a compose file.
const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** Bytes for `512m`, `1g`, `256Mi`, `1GiB`, `1.5g`, `1048576` or a number; undefined if it is not a size. */
export function parseMemory(value: string | number): number | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 0 ? value : undefined;
  }
  const text = value.trim();
  if (!MEMORY_RE.test(text)) return undefined;
  const match = /^([0-9.]+)\s*([a-zA-Z]*)$/.exec(text);
  if (!match) return undefined;
  const amount = Number(match[1]);
  // The pattern allows only `b` or k/m/g/t followed by an optional `i` and `b`: the first letter decides.
  const letter = (match[2] ?? '').charAt(0).toLowerCase();
  const multiple = MEMORY_UNITS[letter];
  if (multiple === undefined || !Number.isFinite(amount)) return undefined;
  return Math.floor(amount * multiple);
}

const DURATION_UNITS: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1 };

/** Seconds for `30s`, `15m`, `2h`, `1h30m`, `1d`; null for `never`; undefined if it is not a duration. */
export function parseDuration(value: string): number | null | undefined {
  const text = value.trim();
  if (!DURATION_RE.test(text)) return undefined;
  if (text === 'never') return null;
  let seconds = 0;
  for (const part of text.matchAll(/([0-9]+)([dhms])/g)) {
    seconds += Number(part[1]) * (DURATION_UNITS[part[2] ?? ''] ?? 0);
  }
  return seconds;
}

/** `536870912` → `512MiB`; whole units when exact, otherwise one decimal. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${text}${units[unit]}`;
}
