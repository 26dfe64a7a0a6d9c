// Unit and integration tests of every workspace, against real SQLite, PostgreSQL, sharp and HTTP.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{apps,packages}/*/src/**/*.test.ts'],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    pool: 'forks',
  },
});
