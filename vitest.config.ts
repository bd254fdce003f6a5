import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most test files wait on subprocesses, sockets and Redis rather than the CPU: run a few at once.
    maxWorkers: 3,
    reporters: ['default'],
  },
});
