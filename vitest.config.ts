import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Two cores: two test files at a time. End-to-end files each use their own project names
    // on the shared engine, so they do not step on each other.
    maxWorkers: 2,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.{ts,tsx}'] } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Fails the run loudly when there is no engine or no build.
          globalSetup: ['test/e2e/global-setup.ts'],
        },
      },
    ],
  },
});
