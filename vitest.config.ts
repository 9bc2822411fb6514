import { defineConfig } from 'vitest/config';

// Tests talk to real PostgreSQL, Redis and a built server; globalSetup prepares them once per run.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // One file at a time: these machines have two cores, and the files that start servers, worker
    // processes and a browser are timing-sensitive under contention.
    fileParallelism: false,
  },
});
