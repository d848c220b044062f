// Bundles the CLI that tsc wrote to dist/ into dist/bundle/ (one file for the start-up path,
// and one chunk per lazily loaded part: each command, the executor, Ink's views), then makes
// dist/cli/main.js a one-line stub that loads it. Loading ~70 small modules one by one cost
// a no-op `plan` more than loading one bundle; tsc still writes every module (the library,
// its types, and the code the tests import).
//
//   node scripts/bundle-cli.mjs     (npm run build runs it after tsc)
//
// Packages from node_modules stay outside the bundle, loaded as before (Ink and React only when
// a terminal review is shown). dist/bundle/ sits two folders down like dist/config/, so code
// that finds files relative to itself (schemas/, images/, dist/egress/) finds the same ones.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';
import { CODE_STAMP_FILE, computeCodeStamp } from '../dist/config/cache-key.js';

const ENTRY = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const OUT = fileURLToPath(new URL('../dist/bundle/', import.meta.url));
const STUB_MARK = '// sandboxshift: bundled CLI stub';
const STUB = `#!/usr/bin/env node\n${STUB_MARK} (scripts/bundle-cli.mjs); the code is in ../bundle/\nimport '../bundle/main.js';\n`;

if (readFileSync(ENTRY, 'utf8').includes(STUB_MARK)) {
  console.error(`${ENTRY} is already the stub: run tsc first (npm run build does both)`);
  process.exit(1);
}
rmSync(OUT, { recursive: true, force: true });
await build({
  input: ENTRY,
  platform: 'node',
  // Node's modules and every package: only our own code goes into the bundle.
  external: (id) => !id.startsWith('.') && !id.startsWith('/'),
  logLevel: 'warn',
  output: { dir: OUT, format: 'esm', entryFileNames: 'main.js', chunkFileNames: '[name]-[hash].js' },
});
// The config cache's code stamp (src/config/cache-key.ts), worked out once here rather than by
// hashing the whole bundle on every run.
writeFileSync(`${OUT}${CODE_STAMP_FILE}`, `${computeCodeStamp(OUT)}\n`);
writeFileSync(ENTRY, STUB);
rmSync(`${ENTRY}.map`, { force: true });
console.log(`bundled the CLI into ${OUT}`);
