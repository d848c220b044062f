// eslint for SandboxShift: typescript-eslint's type-aware rules over src/ and test/. Formatting
// is prettier's job, so no style rules here. It lives in tools/lint with its own node_modules
// (see package.json there); the root eslint.config.js re-exports it, so the patterns below are
// relative to the repository root.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const root = new URL('../../', import.meta.url).pathname;

export default tseslint.config(
  {
    ignores: ['dist/', 'tools/', 'bench/', 'scripts/', 'images/', 'examples/', 'src/config/generated/', 'test/support/', 'test/fixtures/', '**/*.js', '**/*.mjs'],
  },
  {
    files: ['src/**/*.{ts,tsx}', 'test/**/*.{ts,tsx}', 'vitest.config.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // Each file is typed by the tsconfig that checks it: src/ by tsconfig.json (strict index
      // access), tests by tsconfig.test.json (below).
      parserOptions: { project: ['./tsconfig.json'], tsconfigRootDir: root },
    },
    rules: {
      // The two this project most needs: a promise nobody awaits loses its error (and its
      // ordering); a promise where a void callback is expected does the same.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Off: commands, readers and test fakes implement interfaces that return a Promise; an
      // `async` body without `await` is the plain way to do that, not a mistake.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.{ts,tsx}', 'vitest.config.ts'],
    languageOptions: { parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: root } },
    rules: {
      // Tests parse the CLI's JSON output (JSON.parse gives `any`) and then assert on its shape:
      // the expectations are the type check there, and typing every fixture would add nothing.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // tsconfig.test.json turns noUncheckedIndexedAccess off, so a `!` kept in a test for
      // readability (`byAddress['x']!`) is redundant for the checker but harmless.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // expect(obj.method).toHaveBeenCalled() and friends pass methods unbound on purpose.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
