// Provides the PostgreSQL that tests' queues live in: NOOK_TEST_DATABASE_URL, else one embedded cluster.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, EmbeddedPostgres } from '@nook/core';
import type { TestProject } from 'vitest/node';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.NOOK_TEST_DATABASE_URL;
  if (external) {
    project.provide('queueDatabaseUrl', external);
    return async () => undefined;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'nook-test-pg-'));
  await chmod(dir, 0o755);
  const postgres = await EmbeddedPostgres.start(dir, createLogger('warn', false));
  project.provide('queueDatabaseUrl', postgres.connectionString);
  return async () => {
    await postgres.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
