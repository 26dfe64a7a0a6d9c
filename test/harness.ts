// Test helpers: temporary data dirs, per-file queue schemas and a real Nook (HTTP, SQLite, pg-boss, workers).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DataDir,
  JobQueue,
  ServerSecret,
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
import { multipart } from './media';

declare module 'vitest' {
  export interface ProvidedContext {
    queueDatabaseUrl: string;
  }
}

/** The unprivileged user that tests run Nook as when they run as root. */
export const NOBODY = 65534;

/**
 * Whether root can run this checkout's `file` as NOBODY: not when the checkout sits in a folder only
 * root may enter (a clone into `mktemp -d`, /root). .ci/run makes its checkout enterable.
 */
export function runnableByNobody(file: string): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = spawnSync(
    process.execPath,
    ['-e', 'require("node:fs").accessSync(process.argv[1], 4)', file],
    {
      uid: NOBODY,
      gid: NOBODY,
      stdio: 'ignore',
    },
  );
  return probe.status === 0;
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
    // The queue's own schema and Nook's bookkeeping beside it (job leases, outcome counts).
    await client.query(`DROP SCHEMA IF EXISTS "${schema}", "${schema}_nook" CASCADE`);
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
  /** Starts the job workers of a Nook started with `workers: false`. */
  startWorkers(): Promise<void>;
  close(): Promise<void>;
}

export interface TestNookOptions {
  dataDir?: string;
  maxUploadBytes?: number;
  uploadExpiryMs?: number;
  workers?: boolean;
  /** NOOK_PUBLIC_ORIGIN's host names: where first-run setup may come from besides the home network. */
  publicHosts?: string[];
  /** As NOOK_TRUST_PROXY: a reverse proxy in front. */
  trustProxy?: boolean;
  /** As NOOK_ACCEL_REDIRECT: nginx sends originals from this internal location. */
  accelRedirect?: string;
  /** NOOK_LIBRARY_ROOTS: by default the system's temp dir, where tests make their folders. */
  libraryRoots?: string[];
  /** Short retry delays so a final failure arrives within a test's patience. */
  retryOverrides?: Partial<Record<QueueName, { retryDelay: number; retryBackoff: boolean }>>;
}

/** Starts Nook's server and workers in this process, listening on a free loopback port. */
export async function startTestNook(options: TestNookOptions = {}): Promise<TestNook> {
  const root = options.dataDir ?? (await makeTempDir());
  const dataDir = new DataDir(root, options.libraryRoots ?? [tmpdir()]);
  await dataDir.ensure();
  const logger = createLogger(process.env.NOOK_TEST_LOG_LEVEL ?? 'silent', false);
  const schema = uniqueSchema();
  const orm = await openDatabase(dataDir.root);
  const queue = await JobQueue.start({ connectionString: queueDatabaseUrl(), schema }, logger, {
    policyOverrides: options.retryOverrides ?? {
      metadata: { retryDelay: 1, retryBackoff: false },
      thumbnail: { retryDelay: 1, retryBackoff: false },
      'video-poster': { retryDelay: 1, retryBackoff: false },
    },
  });
  const runWorkers = () =>
    startWorkers(
      { orm, queue, dataDir, logger },
      { concurrency: { metadata: 2, thumbnail: 2, 'video-poster': 1 }, trashDays: 30 },
    );
  if (options.workers !== false) await runWorkers();
  const app = await buildApp({
    orm,
    queue,
    dataDir,
    logger,
    secret: await ServerSecret.load(dataDir.root),
    maxUploadBytes: options.maxUploadBytes ?? 1024 ** 3,
    trashDays: 30,
    uploadExpiryMs: options.uploadExpiryMs ?? 24 * 3600_000,
    trustProxy: options.trustProxy ?? false,
    accelRedirect: options.accelRedirect,
    publicHosts: options.publicHosts,
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
    startWorkers: runWorkers,
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

/**
 * A browser-like client: keeps cookies and sends Origin like a same-origin page would, or an API
 * token as a Bearer header.
 */
export class TestClient {
  private readonly cookies = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    private readonly bearer?: string,
  ) {}

  withToken(token: string): TestClient {
    return new TestClient(this.baseUrl, token);
  }

  async fetch(pathname: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.bearer) headers.set('authorization', `Bearer ${this.bearer}`);
    if (this.cookies.size) headers.set('cookie', this.cookieHeader());
    if (!headers.has('origin')) headers.set('origin', this.baseUrl);
    const response = await fetch(`${this.baseUrl}${pathname}`, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, value] = pair!.split('=');
      const expired =
        attributes.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a.trim())) || value === '';
      if (expired) this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value!.trim());
    }
    return response;
  }

  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async query<T = unknown>(procedure: string, input?: unknown): Promise<T> {
    const query = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    return this.result<T>(await this.fetch(`/trpc/${procedure}${query}`));
  }

  async mutate<T = unknown>(procedure: string, input?: unknown): Promise<T> {
    const init = {
      method: 'POST',
      body: JSON.stringify(input ?? null),
      headers: { 'content-type': 'application/json' },
    };
    return this.result<T>(await this.fetch(`/trpc/${procedure}`, init));
  }

  /** The procedure's data, or a rejection carrying the tRPC code, HTTP status and message. */
  private async result<T>(response: Response): Promise<T> {
    const json = (await response.json()) as {
      result?: { data: T };
      error?: { message: string; data: { code: string } };
    };
    if (json.error)
      throw Object.assign(new Error(json.error.message), {
        code: json.error.data.code,
        status: response.status,
      });
    return json.result!.data;
  }

  async upload(files: { name: string; data: Buffer; type?: string }[]): Promise<Response> {
    const { body, contentType } = multipart(files);
    return this.fetch('/api/assets', { method: 'POST', body, headers: { 'content-type': contentType } });
  }
}

export const ADMIN = { username: 'admin', password: 'correct horse battery' };

/** Completes first-run setup and returns the administrator's signed-in client. */
export async function setUpAdmin(baseUrl: string): Promise<TestClient> {
  const client = new TestClient(baseUrl);
  await client.mutate('auth.setup', { ...ADMIN, displayName: 'Admin' });
  return client;
}
