// How fast the queue drains: a worker that found work asks again at once instead of waiting out its poll.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { dropSchema, queueDatabaseUrl, uniqueSchema } from '../../../../test/harness';
import { createLogger } from '../logging/logger';
import { recordRecovery } from '../recovery/report';
import { JobQueue } from './job-queue';
import type { QueueName } from './jobs';

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

  it('drains a burst sent by another process at the speed of the work, not of the poll', async () => {
    const { sender, worker } = await splitMode();
    const jobs = 200;
    const workMs = 20;
    const concurrency = 2;
    const done = new Set<string>();
    let running = 0;
    let mostAtOnce = 0;
    let firstStartedAt = 0;
    let lastDoneAt = 0;
    // Split mode's 1 s interval: only a worker that never idles with work waiting can finish in time.
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
      { producersInProcess: false },
    );
    // Let the workers' first (empty) fetch happen, so the burst lands on idle workers that nobody wakes.
    await sleep(500);
    const started = Date.now();
    await Promise.all(assetIds(jobs).map((id) => sender.enqueue('metadata', { assetId: id }, id)));
    // Nobody wakes this worker: it finds the burst at its next idle poll (up to 1 s), then must drain it
    // without polling again. One job per 1 s poll per worker, as pg-boss's work() did, would take 100 s;
    // the work itself takes 2 s. A fifth of the polling time (10× the work) leaves room for a loaded machine.
    const pollingSeconds = jobs / concurrency;
    const deadline = started + 60_000;
    while (done.size < jobs && Date.now() < deadline) await sleep(100);
    expect(done.size).toBe(jobs);
    expect((lastDoneAt - firstStartedAt) / 1000).toBeLessThan(pollingSeconds / 5);
    expect(mostAtOnce).toBe(concurrency);
    // The last handler has returned; its job is completed and released just after.
    let stats = await sender.stats();
    while (stats.metadata.completed < jobs && Date.now() < deadline) {
      await sleep(100);
      stats = await sender.stats();
    }
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
    // Past the 1 s retry delay: a permanent failure retried by mistake would have run again by now.
    await sleep(2500);
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

  it('wakes an idle worker when a job it failed comes due again, not at its next minute-long poll', async () => {
    const schema = uniqueSchema('queue');
    const queue = await JobQueue.start({ connectionString: queueDatabaseUrl(), schema }, logger, {
      policyOverrides: { metadata: { retryDelay: 1, retryBackoff: false, retryLimit: 1 } },
    });
    cleanup.push(async () => {
      await queue.stop(5000);
      await dropSchema(schema);
    });
    const tries: number[] = [];
    await queue.work(
      'metadata',
      1,
      async (_payload, job) => {
        tries.push(job.retryCount);
        if (job.retryCount === 0) throw new Error('try again');
      },
      { producersInProcess: true },
    );
    const [id] = assetIds(1) as [string];
    await queue.enqueue('metadata', { assetId: id }, id);
    // Well inside the 60 s idle poll: only the wake-up at the retry's due time can make it.
    const deadline = Date.now() + 30_000;
    while (tries.length < 2 && Date.now() < deadline) await sleep(100);
    expect(tries).toEqual([0, 1]);
  });

  /** A worker process that takes jobs of `queues` and never finishes them, until it is killed. */
  async function dyingWorker(schema: string, queues: QueueName[]) {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./fixtures/dying-worker.ts', import.meta.url))],
      {
        env: {
          ...process.env,
          NOOK_TEST_QUEUE_URL: queueDatabaseUrl(),
          NOOK_TEST_QUEUE_SCHEMA: schema,
          NOOK_TEST_QUEUES: queues.join(','),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    cleanup.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    const printed = async (line: string) => {
      const deadline = Date.now() + 30_000;
      while (!output.includes(line) && Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`the worker exited: ${output}`);
        await sleep(50);
      }
      expect(output).toContain(line);
    };
    await printed('ready');
    return {
      printed,
      kill: async () => {
        child.kill('SIGKILL');
        await exited;
      },
    };
  }

  const overrides = { policyOverrides: { thumbnail: { retryLimit: 0 } } };

  it('at start, retries at once a job a killed process was running, and fails for good one on its last try', async () => {
    const schema = uniqueSchema('queue');
    const connection = { connectionString: queueDatabaseUrl(), schema };
    const sender = await JobQueue.start(connection, logger, overrides);
    const worker = await dyingWorker(schema, ['library-scan', 'thumbnail']);
    const libraryId = '00000000-0000-4000-8000-000000000001';
    const assetId = '00000000-0000-4000-8000-000000000002';
    await sender.enqueue('library-scan', { libraryId }, libraryId);
    // A thumbnail with no retry: its first try is its last, as if it had crashed the process before.
    await sender.enqueue('thumbnail', { assetId }, assetId);
    await worker.printed('running library-scan');
    await worker.printed('running thumbnail');
    expect((await sender.stats())['library-scan']).toMatchObject({ queued: 0, active: 1 });
    await sender.stop(5000);
    await worker.kill();

    // The scan's policy retries after 60 s and expires after 6 h; recovery must not wait for either.
    const restarted = await JobQueue.start(connection, logger, overrides);
    cleanup.push(async () => {
      await restarted.stop(5000);
      await dropSchema(schema);
    });
    expect(await restarted.recoverAbandoned({ everyoneElse: true })).toEqual({
      retried: { 'library-scan': 1 },
      failed: { thumbnail: 1 },
    });
    // Claimed once: a second pass finds nothing.
    expect(await restarted.recoverAbandoned({ everyoneElse: true })).toEqual({ retried: {}, failed: {} });
    const ran = new Promise<{ libraryId?: string; retryCount: number }>((resolve) =>
      restarted.work('library-scan', 1, async (payload, job) =>
        resolve({ ...payload, retryCount: job.retryCount }),
      ),
    );
    expect(await ran).toEqual({ libraryId, retryCount: 1 });
    // The thumbnail's last try ended with nobody to record it: its dead letter carries the asset and why.
    const deadLetter = new Promise<{ assetId: string; output: unknown }>((resolve) =>
      restarted.work('media-failed', 1, async (payload, job) => resolve({ ...payload, output: job.output })),
    );
    const letter = await deadLetter;
    expect(letter.assetId).toBe(assetId);
    expect(JSON.stringify(letter.output)).toMatch(/stopped while working/);
    const stats = await restarted.stats();
    expect(stats.thumbnail).toMatchObject({ queued: 0, active: 0, failed: 1 });
    // Nothing more to take over wholesale once this process's own workers run.
    await expect(restarted.recoverAbandoned({ everyoneElse: true })).rejects.toThrow(/before any worker/);
  });

  it('in split mode, a live worker takes over the jobs of a killed one once its heartbeat is stale', async () => {
    const schema = uniqueSchema('queue');
    const connection = { connectionString: queueDatabaseUrl(), schema };
    const live = await JobQueue.start(connection, logger, { heartbeatSeconds: 1, staleSeconds: 3 });
    cleanup.push(async () => {
      await live.stop(5000);
      await dropSchema(schema);
    });
    const worker = await dyingWorker(schema, ['library-scan']);
    const libraryId = '00000000-0000-4000-8000-000000000003';
    await live.enqueue('library-scan', { libraryId }, libraryId);
    await worker.printed('running library-scan');
    // A rescan asked for meanwhile waits beside the running one (one waiting and one running per key).
    expect(await live.enqueue('library-scan', { libraryId }, libraryId)).not.toBeNull();
    expect(await live.enqueue('library-scan', { libraryId }, libraryId)).toBeNull();
    await worker.kill();
    const runs: number[] = [];
    await live.work('library-scan', 2, async (_payload, job) => void runs.push(job.retryCount));
    // The waiting rescan cannot start while the dead one holds the key; once the heartbeat sweep takes
    // the dead one over, the work is done (the abandoned job folds into the waiting one).
    const deadline = Date.now() + 60_000;
    while (runs.length === 0 && Date.now() < deadline) await sleep(200);
    expect(runs.length).toBeGreaterThan(0);
    const [recovered] = await live.recoveries();
    expect(recovered?.counts).toMatchObject({ jobsRetried: 1, jobsFailed: 0 });
  }, 90_000);

  it('adds up what recovery steps report at a start', async () => {
    const schema = uniqueSchema('queue');
    const queue = await JobQueue.start({ connectionString: queueDatabaseUrl(), schema }, logger, {
      processKind: 'start',
    });
    cleanup.push(async () => {
      await queue.stop(5000);
      await dropSchema(schema);
    });
    expect(await queue.recoveries()).toEqual([]);
    await recordRecovery(queue, { jobsRetried: 2 });
    await recordRecovery(queue, { uploadsCompleted: 1, tempFilesRemoved: 3 });
    await recordRecovery(queue, { jobsRetried: 1, assetsRequeued: 0 });
    const [entry, ...rest] = await queue.recoveries();
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({
      process: 'start',
      counts: {
        jobsRetried: 3,
        jobsFailed: 0,
        assetsFailed: 0,
        assetsRequeued: 0,
        uploadsCompleted: 1,
        tempFilesRemoved: 3,
      },
    });
  });
});
