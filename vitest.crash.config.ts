// The crash test (test/crash): a real `nook start` killed with SIGKILL, with its PostgreSQL, again
// and again. Its own step in CI: it starts its own PostgreSQL whatever NOOK_TEST_DATABASE_URL says.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/crash/*.test.ts'],
    testTimeout: 15 * 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    pool: 'forks',
  },
});
