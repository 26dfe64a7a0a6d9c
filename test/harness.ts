// Test helpers: temporary data dirs, per-file queue schemas and a real Nook (HTTP, SQLite, pg-boss, workers).
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DataDir,
  JobQueue,
  UserService,
  createLogger,
  openDatabase,
  type MikroORM,
  type QueueName,
} from '@nook/core';
import { buildApp } from '@nook/server';
import { startWorkers } from '@nook/worker';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    queueDatabaseUrl: string;
  }
}

/** A data dir that the embedded PostgreSQL's user can traverse when tests run as root. */
export async function makeTempDir(prefix = 'nook-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

export function uniqueSchema(prefix = 'test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export function queueDatabaseUrl(): string {
  return inject('queueDatabaseUrl');
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: queueDatabaseUrl() });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

export interface TestNook {
  url: string;
  app: FastifyInstance;
  orm: MikroORM;
  queue: JobQueue;
  dataDir: DataDir;
  schema: string;
  close(): Promise<void>;
}

export interface TestNookOptions {
  dataDir?: string;
  maxUploadBytes?: number;
  workers?: boolean;
  /** Short retry delays so a final failure arrives within a test's patience. */
  retryOverrides?: Partial<Record<QueueName, { retryDelay: number; retryBackoff: boolean }>>;
}

/** Starts Nook's server and workers in this process, listening on a free loopback port. */
export async function startTestNook(options: TestNookOptions = {}): Promise<TestNook> {
  const root = options.dataDir ?? (await makeTempDir());
  const dataDir = new DataDir(root);
  await dataDir.ensure();
  const logger = createLogger(process.env.NOOK_TEST_LOG_LEVEL ?? 'silent', false);
  const schema = uniqueSchema();
  const orm = await openDatabase(dataDir.root);
  await new UserService(orm.em.fork()).ensureDefaultUser();
  const queue = await JobQueue.start({ connectionString: queueDatabaseUrl(), schema }, logger, {
    policyOverrides: options.retryOverrides ?? {
      thumbnail: { retryDelay: 1, retryBackoff: false },
    },
  });
  if (options.workers !== false) await startWorkers({ orm, queue, dataDir, logger }, 2);
  const app = await buildApp({
    orm,
    queue,
    dataDir,
    logger,
    maxUploadBytes: options.maxUploadBytes ?? 1024 ** 3,
    version: 'test',
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    orm,
    queue,
    dataDir,
    schema,
    async close() {
      await app.close();
      await queue.stop(5000);
      await orm.close();
      await dropSchema(schema);
      if (!options.dataDir) await rm(root, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
