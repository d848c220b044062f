import { readFileSync } from 'node:fs';

/**
 * The package version, read once from package.json: one folder up from dist/version.js or
 * src/version.ts, two from the bundled CLI's dist/cli/ (see scripts/bundle-cli.mjs).
 */
export const VERSION: string = (() => {
  for (const path of ['../package.json', '../../package.json']) {
    let text: string;
    try {
      text = readFileSync(new URL(path, import.meta.url), 'utf8');
    } catch {
      continue; // not at this depth
    }
    const pkg = JSON.parse(text) as { name?: string; version: string };
    if (pkg.name === 'sandboxshift') return pkg.version;
  }
  throw new Error('internal: package.json of sandboxshift not found next to its code');
})();
