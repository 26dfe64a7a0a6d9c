// How fast the queue drains: a worker that found work asks again at once instead of waiting out its poll.
import PgBoss from 'pg-boss';
import { afterEach, describe, expect, it } from 'vitest';
import { dropSchema, queueDatabaseUrl, uniqueSchema } from '../../../../test/harness';
import { createLogger } from '../logging/logger';
import { JobQueue } from './job-queue';

const logger = createLogger('silent', false);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const assetIds = (count: number) =>
  Array.from({ length: count }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);

describe('job queue workers', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  /** Two JobQueues on one schema, as `nook serve` (the sender) and `nook worker` in their own processes. */
  async function splitMode() {
    const schema = uniqueSchema('queue');
    const connection = { connectionString: queueDatabaseUrl(), schema };
    const sender = await JobQueue.start(connection, logger);
    const worker = await JobQueue.start(connection, logger);
    cleanup.push(async () => {
      await worker.stop(5000);
      await sender.stop(5000);
      await dropSchema(schema);
    });
    return { sender, worker };
  }

  it('drains a burst sent by another process at the speed of the work, not of the 10 s poll', async () => {
    const { sender, worker } = await splitMode();
    const jobs = 200;
    const workMs = 20;
    const concurrency = 2;
    const done = new Set<string>();
    let running = 0;
    let mostAtOnce = 0;
    let firstStartedAt = 0;
    let lastDoneAt = 0;
    // The slow interval `nook start` uses: only a worker that never idles with work waiting can finish in time.
    await worker.work(
      'metadata',
      concurrency,
      async ({ assetId }) => {
        firstStartedAt ||= Date.now();
        mostAtOnce = Math.max(mostAtOnce, ++running);
        await sleep(workMs);
        running--;
        done.add(assetId);
        lastDoneAt = Date.now();
      },
      { producersInProcess: true },
    );
    // Let the workers' first (empty) fetch happen, so the burst lands on idle workers that nobody wakes.
    await sleep(500);
    const started = Date.now();
    await Promise.all(assetIds(jobs).map((id) => sender.enqueue('metadata', { assetId: id }, id)));
    // Nobody wakes this worker: it finds the burst at its next idle poll (up to 10 s), then must drain it
    // without polling again. One job per 10 s poll per worker, as before, would take 1,000 s; the work
    // itself takes 2 s. A fiftieth of the polling time (10× the work) leaves room for a loaded machine.
    const pollingSeconds = (jobs / concurrency) * 10;
    const deadline = started + 60_000;
    while (done.size < jobs && Date.now() < deadline) await sleep(100);
    expect(done.size).toBe(jobs);
    expect((lastDoneAt - firstStartedAt) / 1000).toBeLessThan(pollingSeconds / 50);
    expect(mostAtOnce).toBe(concurrency);
    const stats = await sender.stats();
    expect(stats.metadata).toMatchObject({ queued: 0, active: 0, completed: jobs });
  }, 90_000);

  it('keeps every slot busy through a burst sent in its own process, then sits still', async () => {
    const schema = uniqueSchema('queue');
    const queue = await JobQueue.start({ connectionString: queueDatabaseUrl(), schema }, logger);
    cleanup.push(async () => {
      await queue.stop(5000);
      await dropSchema(schema);
    });
    const jobs = 100;
    const concurrency = 2;
    let done = 0;
    let running = 0;
    let mostAtOnce = 0;
    await queue.work(
      'thumbnail',
      concurrency,
      async () => {
        mostAtOnce = Math.max(mostAtOnce, ++running);
        await sleep(20);
        running--;
        done++;
      },
      { producersInProcess: true },
    );
    const started = Date.now();
    // Sends keep arriving while every slot is busy: each wakes the worker, none may make it spin.
    for (const id of assetIds(jobs)) await queue.enqueue('thumbnail', { assetId: id }, id);
    const deadline = started + 60_000;
    while (done < jobs && Date.now() < deadline) await sleep(100);
    expect(done).toBe(jobs);
    expect((Date.now() - started) / 1000).toBeLessThan(((jobs / concurrency) * 10) / 20);
    expect(mostAtOnce).toBe(concurrency);

    await sleep(1000);
    const before = process.cpuUsage();
    await sleep(3000);
    const cpu = process.cpuUsage(before);
    // Idle polling is a query every few seconds; 5 % of a core is far above it and far below a busy loop.
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(150);
  }, 90_000);

  it('starts on a backlog left from before a restart at once', async () => {
    const { sender, worker } = await splitMode();
    await Promise.all(assetIds(20).map((id) => sender.enqueue('thumbnail', { assetId: id }, id)));
    const started = Date.now();
    let firstAt = 0;
    let count = 0;
    await worker.work(
      'thumbnail',
      2,
      async () => {
        firstAt ||= Date.now();
        count++;
      },
      { producersInProcess: true },
    );
    const deadline = Date.now() + 30_000;
    while (count < 20 && Date.now() < deadline) await sleep(50);
    expect(count).toBe(20);
    expect(firstAt - started).toBeLessThan(1000);
  });

  it('keeps retries, permanent failures and the expiry signal', async () => {
    const schema = uniqueSchema('queue');
    const queue = await JobQueue.start({ connectionString: queueDatabaseUrl(), schema }, logger, {
      policyOverrides: {
        metadata: { retryDelay: 1, retryBackoff: false, retryLimit: 2 },
        thumbnail: { retryLimit: 3, expireInSeconds: 1 },
      },
    });
    cleanup.push(async () => {
      await queue.stop(5000);
      await dropSchema(schema);
    });
    const [flaky, broken, slow] = assetIds(3) as [string, string, string];
    const attempts = new Map<string, { retryCount: number; final: boolean }[]>();
    let abortedBy: unknown;
    await queue.work('metadata', 2, async ({ assetId }, job) => {
      const seen = attempts.get(assetId) ?? [];
      seen.push({ retryCount: job.retryCount, final: job.isFinalAttempt });
      attempts.set(assetId, seen);
      if (assetId === flaky && job.retryCount < 2) throw new Error('try again');
      if (assetId === broken) throw Object.assign(new Error('corrupt'), { permanent: true });
    });
    await queue.work('thumbnail', 1, async (_payload, job) => {
      await new Promise<void>((resolve) =>
        job.signal.addEventListener('abort', () => {
          abortedBy = job.signal.reason;
          resolve();
        }),
      );
      throw new Error('aborted');
    });
    await queue.enqueue('metadata', { assetId: flaky }, flaky);
    await queue.enqueue('metadata', { assetId: broken }, broken);
    await queue.enqueue('thumbnail', { assetId: slow }, slow);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const stats = await queue.stats();
      if (stats.metadata.completed === 1 && stats.metadata.failed === 1 && abortedBy) break;
      await sleep(200);
    }
    expect(attempts.get(flaky)).toEqual([
      { retryCount: 0, final: false },
      { retryCount: 1, final: false },
      { retryCount: 2, final: true },
    ]);
    expect(attempts.get(broken)).toEqual([{ retryCount: 0, final: false }]);
    expect(String(abortedBy)).toMatch(/expired/);
    const stats = await queue.stats();
    expect(stats.metadata).toMatchObject({ completed: 1, failed: 1, queued: 0, active: 0 });
  });

  it('at start, fails a job a dead process left active so it runs again at once, not at its expiry', async () => {
    const schema = uniqueSchema('queue');
    const connection = { connectionString: queueDatabaseUrl(), schema };
    const first = await JobQueue.start(connection, logger);
    const libraryId = '00000000-0000-4000-8000-000000000001';
    await first.enqueue('library-scan', { libraryId }, libraryId);
    // A thumbnail on its last try (as if it had crashed the process twice before).
    const assetId = '00000000-0000-4000-8000-000000000002';
    await first.enqueue('thumbnail', { assetId }, assetId);
    // The process that took them dies: pg-boss (on its own) marked them active and nobody ends them.
    const dead = new PgBoss({ ...connection, max: 1 });
    await dead.start();
    const [taken] = await dead.fetch('library-scan');
    expect(taken?.id).toBeTruthy();
    const [thumbnail] = await dead.fetch('thumbnail');
    await dead
      .getDb()
      .executeSql(`UPDATE ${schema}.job SET retry_count = retry_limit WHERE id = $1`, [thumbnail!.id]);
    await dead.stop({ graceful: false, wait: true });
    await first.stop(5000);

    // The scan's policy retries after 60 s and expires after 6 h; recovery must not wait for either.
    const restarted = await JobQueue.start(connection, logger);
    cleanup.push(async () => {
      await restarted.stop(5000);
      await dropSchema(schema);
    });
    const final: [string, unknown][] = [];
    expect(await restarted.failAbandoned(async (name, payload) => void final.push([name, payload]))).toEqual({
      'library-scan': 1,
      thumbnail: 1,
    });
    // Only the job on its last try is final: its asset is the caller's to mark failed.
    expect(final).toEqual([['thumbnail', { assetId }]]);
    const startedAt = Date.now();
    const ran = new Promise<{ libraryId?: string; retryCount: number }>((resolve) =>
      restarted.work('library-scan', 1, async (payload, job) =>
        resolve({ ...payload, retryCount: job.retryCount }),
      ),
    );
    expect(await ran).toEqual({ libraryId, retryCount: 1 });
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    // Nothing more to fail once this process's own workers run.
    await expect(restarted.failAbandoned()).rejects.toThrow(/before any worker/);
  });
});
