// The account an environment's user gets in its container's /etc/passwd and /etc/group: the
// image's own entry when it has one for the uid, else a `sandbox`-style one appended, so
// `whoami`, `$HOME` (set by the runtime from /etc/passwd at start and at every exec), git and
// pip work for any uid. Pure text in, text out; engine/user-setup.ts reads and writes the files.

export interface Account {
  name: string;
  /** The home directory the entry names ('' when it names none). */
  home: string;
  /** The new /etc/passwd, or null when the image's already has the uid. */
  passwd: string | null;
  /** The new /etc/group, or null when the image's already has the gid. */
  group: string | null;
}

/** Name, home and the edited files for uid:gid. Missing files are read as empty. */
export function accountFor(passwd: string, group: string, uid: number, gid: number): Account {
  const users = entries(passwd);
  const groups = entries(group);
  const own = users.find((f) => f[2] === String(uid));
  const groupNeeded = !groups.some((f) => f[2] === String(gid));
  if (own) {
    const name = own[0] ?? String(uid);
    return { name, home: own[5] ?? '', passwd: null, group: groupNeeded ? appendLine(group, `${freeName(groups, [name, `sandbox-${gid}`])}:x:${gid}:`) : null };
  }
  const name = freeName(users, ['sandbox', `sandbox-${uid}`]);
  const home = `/home/${name}`;
  return {
    name,
    home,
    passwd: appendLine(passwd, `${name}:x:${uid}:${gid}:sandbox:${home}:/bin/sh`),
    group: groupNeeded ? appendLine(group, `${freeName(groups, [name, `sandbox-${gid}`])}:x:${gid}:`) : null,
  };
}

/** The colon-separated fields of each entry line (comments, blanks and NIS `+`/`-` lines left out). */
function entries(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '' && !l.startsWith('#') && !l.startsWith('+') && !l.startsWith('-'))
    .map((l) => l.split(':'));
}

/** The first candidate no entry is named, else the last one with a counter. */
function freeName(existing: string[][], candidates: string[]): string {
  const taken = new Set(existing.map((f) => f[0]));
  const free = candidates.find((c) => !taken.has(c));
  if (free) return free;
  const last = candidates[candidates.length - 1]!;
  for (let i = 2; ; i++) if (!taken.has(`${last}-${i}`)) return `${last}-${i}`;
}

function appendLine(text: string, line: string): string {
  return `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${line}\n`;
}
