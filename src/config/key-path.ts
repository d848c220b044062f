// Key paths name a place in the config both for position lookup and for the `path` diagnostics show.

/** Map keys as strings, list positions as numbers. */
export type KeyPath = readonly (string | number)[];

/**
 * Splits an ajv instancePath (a JSON pointer) into a key path. A segment is a number only where
 * the data at that point is a list, so a secret named `0` stays a key.
 */
export function pointerToPath(pointer: string, data: unknown): KeyPath {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const index = Number(key);
      path.push(index);
      node = node[index];
    } else {
      path.push(key);
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return path;
}

/** `environments.agent.mounts[0].source`; keys that are not plain words are quoted: `secrets["gh.token"]`. */
export function formatPath(path: KeyPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z0-9_$-]+$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** What an entry of each named map is called in messages: `image 'py'`, `secret 'token'`. */
const ENTRY_KINDS: Record<string, string> = {
  environments: 'environment',
  images: 'image',
  secrets: 'secret',
};

/** How a key path is named inside a message: `'memory'`, `'mounts[0]'`, `image 'py'`. */
export function subjectOf(path: KeyPath): string {
  const last = path[path.length - 1];
  if (last === undefined) return 'the file';
  const parent = path[path.length - 2];
  if (typeof last === 'number') return `'${parent === undefined ? '' : String(parent)}[${last}]'`;
  const kind = typeof parent === 'string' ? ENTRY_KINDS[parent] : undefined;
  return kind === undefined ? `'${last}'` : `${kind} '${last}'`;
}
