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
// The short paths' entries (src/cli/short-path.ts), one CommonJS file each.
const SHORT_PATHS = ['exec-short-path', 'cp-short-path'];
const OUT = fileURLToPath(new URL('../dist/bundle/', import.meta.url));
// The stub is CommonJS (this package.json beside it says so; nothing else in dist/cli/ is loaded
// at run time): `exec`, `shell` and `cp` then start on one CommonJS file, without the ESM loader.
const CLI_PACKAGE = fileURLToPath(new URL('../dist/cli/package.json', import.meta.url));
const STUB_MARK = '// sandboxshift: bundled CLI stub';
const STUB = `#!/usr/bin/env node
${STUB_MARK} (scripts/bundle-cli.mjs); the code is in ../bundle/. CommonJS (./package.json):
// exec, shell and cp try their short path from one CommonJS file first (src/cli/short-path.ts);
// everything else, and a command its short path leaves, loads the ESM bundle.
'use strict';
const argv = process.argv.slice(2);
const full = () => import('../bundle/main.js');
const short = argv[0] === 'exec' || argv[0] === 'shell' ? 'exec' : argv[0] === 'cp' ? 'cp' : null;
if (short) {
  require(\`../bundle/\${short}-short-path.cjs\`)
    .runShortPath(argv)
    .then(
      (code) => (code === null ? full() : (process.exitCode = code)),
      (err) => {
        process.stderr.write(\`sandboxshift: internal error: \${err instanceof Error ? (err.stack ?? err.message) : String(err)}\\n\`);
        process.exitCode = 1;
      },
    );
} else full();
`;

if (readFileSync(ENTRY, 'utf8').includes(STUB_MARK)) {
  console.error(`${ENTRY} is already the stub: run tsc first (npm run build does both)`);
  process.exit(1);
}
rmSync(OUT, { recursive: true, force: true });
// tsc's ESM output is bundled as ESM: no CommonJS marker beside it while rolldown reads it
// (npm run build removes it before tsc too, so tsc's dist/cli/ is never read as CommonJS).
rmSync(CLI_PACKAGE, { force: true });
await build({
  input: ENTRY,
  platform: 'node',
  // Node's modules and every package: only our own code goes into the bundle.
  external: (id) => !id.startsWith('.') && !id.startsWith('/'),
  logLevel: 'warn',
  output: { dir: OUT, format: 'esm', entryFileNames: 'main.js', chunkFileNames: '[name]-[hash].js' },
});
// Each short path as one CommonJS file, no chunks. Packages stay outside it as in the ESM
// bundle; the paths themselves load none (an engine error's advice may import dockerode lazily).
for (const name of SHORT_PATHS) {
  await build({
    input: fileURLToPath(new URL(`../dist/cli/${name}.js`, import.meta.url)),
    platform: 'node',
    external: (id) => !id.startsWith('.') && !id.startsWith('/'),
    logLevel: 'warn',
    output: { file: `${OUT}${name}.cjs`, format: 'cjs', codeSplitting: false },
  });
}
// The config cache's code stamp (src/config/cache-key.ts), worked out once here rather than by
// hashing the whole bundle on every run.
writeFileSync(`${OUT}${CODE_STAMP_FILE}`, `${computeCodeStamp(OUT)}\n`);
// The marker first: a stub left without it would be read as an ES module and fail on require.
writeFileSync(CLI_PACKAGE, '{ "type": "commonjs" }\n');
writeFileSync(ENTRY, STUB);
rmSync(`${ENTRY}.map`, { force: true });
console.log(`bundled the CLI into ${OUT}`);
