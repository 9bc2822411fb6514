import { defineConfig } from 'vitest/config';

// Tests talk to real PostgreSQL, Redis and a built server; globalSetup prepares them once per run.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
