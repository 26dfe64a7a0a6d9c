// pg-boss behind a typed surface: queues created with their policy before anyone works or sends.
import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import {
  isPermanentError,
  jobPayloads,
  pollingIntervalSeconds,
  queueNames,
  queuePolicies,
  type JobPayload,
  type QueueName,
} from './jobs';

export interface JobContext {
  id: string;
  retryCount: number;
  retryLimit: number;
  /** True when this attempt failing means the job has failed for good. */
  isFinalAttempt: boolean;
  /** Aborted when the job reaches its expiry, so child processes are killed rather than left running. */
  signal: AbortSignal;
}

export type JobHandler<N extends QueueName> = (payload: JobPayload<N>, job: JobContext) => Promise<void>;

export interface QueueStats {
  queued: number;
  active: number;
  failed: number;
  completed: number;
}

export interface QueueConnection {
  connectionString: string;
  schema: string;
}

export interface JobQueueOptions {
  /** Replaces parts of a queue's policy; tests use it for short retry delays. */
  policyOverrides?: Partial<Record<QueueName, Partial<Omit<PgBoss.Queue, 'name'>>>>;
}

/** While a queue found work this recently, an empty fetch is followed by a short poll rather than the idle one. */
const BUSY_WINDOW_MS = 30_000;
const BUSY_POLL_MS = 500;

/**
 * One queue's fetch loop on pg-boss's public `fetch`/`complete`/`fail`, with `concurrency` slots. pg-boss's
 * own `work()` waits out its polling interval after every fetch, even one that found a job, so a backlog
 * drained at one job per interval per poller. Here a fetch asks for as many jobs as there are free
 * slots, a finished job frees its slot and fetches again at once, and only an empty fetch waits: briefly
 * while the queue has been busy, the idle interval otherwise, or until `wake()` (a send in this process).
 */
class QueueWorker<N extends QueueName> {
  private readonly active = new Map<string, Promise<void>>();
  private stopping = false;
  private woken = false;
  private wakeUp: (() => void) | null = null;
  private lastFoundAt = 0;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(
    private readonly boss: PgBoss,
    private readonly name: N,
    private readonly concurrency: number,
    private readonly handler: JobHandler<N>,
    private readonly idleMs: number,
    private readonly noMoreRetries: (id: string) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.loopDone = this.loop();
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops fetching; resolves once the loop and every running job are done. */
  async drain(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loopDone;
    await Promise.all(this.active.values());
  }

  runningJobIds(): string[] {
    return [...this.active.keys()];
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const free = this.concurrency - this.active.size;
      // With every slot busy there is nothing to poll for: a finishing job wakes the loop.
      let waitMs = Infinity;
      // A send that arrives during the fetch must lead to another fetch, not be lost; one that arrives
      // while every slot is busy is served when a slot frees (keeping it would spin this loop).
      this.woken = false;
      if (free > 0) {
        try {
          const jobs = await this.boss.fetch<JobPayload<N>>(this.name, {
            batchSize: free,
            includeMetadata: true,
          });
          for (const job of jobs) this.run(job);
          if (jobs.length > 0) this.lastFoundAt = Date.now();
          if (jobs.length < free)
            waitMs =
              Date.now() - this.lastFoundAt < BUSY_WINDOW_MS
                ? Math.min(BUSY_POLL_MS, this.idleMs)
                : this.idleMs;
        } catch (error) {
          this.logger.error({ err: error, queue: this.name }, 'fetching jobs failed');
          waitMs = this.idleMs;
        }
      }
      await this.pause(waitMs);
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.woken || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => this.wakeUp?.(), ms) : undefined;
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
    });
  }

  private run(job: PgBoss.JobWithMetadata<JobPayload<N>>): void {
    const done = this.execute(job).finally(() => {
      this.active.delete(job.id);
      this.wake();
    });
    this.active.set(job.id, done);
  }

  /**
   * A handler that throws fails the job, so pg-boss retries it; the handler itself records a final
   * failure where users can see it. At the expiry the signal aborts the work and the job is failed.
   */
  private async execute(job: PgBoss.JobWithMetadata<JobPayload<N>>): Promise<void> {
    const expiry = new AbortController();
    const timer = setTimeout(() => expiry.abort(new Error('job expired')), job.expireInSeconds * 1000);
    const expired = new Promise<never>((_, reject) =>
      expiry.signal.addEventListener('abort', () => reject(expiry.signal.reason as Error), { once: true }),
    );
    let failure: { error: unknown } | null = null;
    try {
      const payload = jobPayloads[this.name].parse(job.data) as JobPayload<N>;
      const work = this.handler(payload, {
        id: job.id,
        retryCount: job.retryCount,
        retryLimit: job.retryLimit,
        isFinalAttempt: job.retryCount >= job.retryLimit,
        signal: expiry.signal,
      });
      await Promise.race([work, expired]);
    } catch (error) {
      failure = { error };
    } finally {
      clearTimeout(timer);
    }
    try {
      if (!failure) {
        await this.boss.complete(this.name, job.id);
        return;
      }
      if (isPermanentError(failure.error)) await this.noMoreRetries(job.id);
      await this.boss.fail(this.name, job.id, failure.error as object);
    } catch (error) {
      // The job stays active until its expiry, when pg-boss fails and retries it.
      this.logger.error({ err: error, queue: this.name, jobId: job.id }, 'recording the job outcome failed');
    }
  }
}

export class JobQueue {
  private readonly workers = new Map<
    QueueName,
    { wake(): void; drain(): Promise<void>; runningJobIds(): string[] }
  >();
  private readonly stopHooks: (() => void)[] = [];

  private constructor(
    private readonly boss: PgBoss,
    private readonly schema: string,
    private readonly logger: Logger,
  ) {}

  static async start(
    connection: QueueConnection,
    logger: Logger,
    options: JobQueueOptions = {},
  ): Promise<JobQueue> {
    const boss = new PgBoss({
      connectionString: connection.connectionString,
      schema: connection.schema,
      application_name: 'nook',
      max: 4,
      // Nook's crons fire at most once a minute; pg-boss's default looks for due ones every 5 s.
      cronWorkerIntervalSeconds: 15,
    });
    boss.on('error', (error) => logger.error({ err: error }, 'queue error'));
    await boss.start();
    for (const name of queueNames) {
      const policy = { name, ...queuePolicies[name], ...options.policyOverrides?.[name] };
      if (await boss.getQueue(name)) await boss.updateQueue(name, policy);
      else await boss.createQueue(name, policy);
    }
    return new JobQueue(boss, connection.schema, logger);
  }

  /** Sends a job keyed by `singletonKey`; a duplicate of one already waiting is dropped by the policy. */
  async enqueue<N extends QueueName>(
    name: N,
    payload: JobPayload<N>,
    singletonKey: string,
  ): Promise<string | null> {
    const data = jobPayloads[name].parse(payload) as object;
    const id = await this.boss.send(name, data, { singletonKey });
    this.workers.get(name)?.wake();
    return id;
  }

  /** Runs a queue's jobs, up to `concurrency` at once. */
  async work<N extends QueueName>(
    name: N,
    concurrency: number,
    handler: JobHandler<N>,
    { producersInProcess = false }: { producersInProcess?: boolean } = {},
  ): Promise<void> {
    if (this.workers.has(name)) throw new Error(`the ${name} queue already has its worker`);
    const worker = new QueueWorker(
      this.boss,
      name,
      concurrency,
      handler,
      pollingIntervalSeconds(name, producersInProcess) * 1000,
      (id) => this.noMoreRetries(name, id),
      this.logger,
    );
    this.workers.set(name, worker);
    worker.start();
    this.logger.debug({ queue: name, concurrency }, 'worker started');
  }

  /**
   * pg-boss retries until retry_count reaches retry_limit; lowering the limit to the count makes
   * this failure final while pg-boss still records it as a failure.
   */
  private async noMoreRetries(name: QueueName, id: string): Promise<void> {
    await this.boss
      .getDb()
      .executeSql(`UPDATE ${this.schema}.job SET retry_limit = retry_count WHERE name = $1 AND id = $2`, [
        name,
        id,
      ]);
  }

  /**
   * Fails every job left active, so each is retried now rather than at its expiry (hours for a library
   * scan or a backup, whose next run cannot start meanwhile). Only for a process that owns the queue's
   * database and has not started its workers: then no live process can be running any of them.
   * pg-boss has no public way to list jobs by state, so their ids are read from its job table; failing
   * them goes through pg-boss (retry count, final failure, output), and only their retry delay is
   * skipped by hand.
   */
  async failAbandoned(
    /** Called for each job that was on its last attempt: its failure is final, and nobody ran its handler. */
    onFinal?: (name: QueueName, payload: unknown) => Promise<void>,
  ): Promise<Partial<Record<QueueName, number>>> {
    if (this.workers.size > 0) throw new Error('failAbandoned must run before any worker starts');
    const db = this.boss.getDb();
    const failed: Partial<Record<QueueName, number>> = {};
    const { rows } = await db.executeSql(
      `SELECT name, id FROM ${this.schema}.job WHERE name = ANY($1) AND state = 'active'`,
      [queueNames],
    );
    for (const name of queueNames) {
      const ids = (rows as { name: string; id: string }[])
        .filter((row) => row.name === name)
        .map((row) => row.id);
      if (ids.length === 0) continue;
      for (const id of ids) {
        await this.boss.fail(name, id, { message: 'Nook stopped while the job ran (recovered at start)' });
        const job = onFinal && (await this.boss.getJobById(name, id));
        if (job && job.state === 'failed') await onFinal(name, job.data);
      }
      await db.executeSql(
        `UPDATE ${this.schema}.job SET start_after = now() WHERE name = $1 AND id = ANY($2::uuid[]) AND state = 'retry'`,
        [name, ids],
      );
      failed[name] = ids.length;
    }
    return failed;
  }

  /**
   * The singleton keys (asset ids, for the media queues) of the jobs of `names` waiting or running, read
   * from pg-boss's job table as pg-boss offers no lookup by key: what a sweep must not send again.
   */
  async keysInFlight(names: QueueName[]): Promise<Set<string>> {
    const { rows } = await this.boss.getDb().executeSql(
      `SELECT DISTINCT singleton_key FROM ${this.schema}.job
         WHERE name = ANY($1) AND state IN ('created', 'retry', 'active') AND singleton_key IS NOT NULL`,
      [names],
    );
    return new Set((rows as { singleton_key: string }[]).map((row) => row.singleton_key));
  }

  /** `hook` runs when stop() begins: timers of periodic work that uses the queue end with it. */
  onStop(hook: () => void): void {
    this.stopHooks.push(hook);
  }

  /**
   * Sends `payload` to `name` on a cron schedule (kept in PostgreSQL, so one run per tick however
   * many Nook processes are up). Scheduling the same key again replaces it.
   */
  async schedule<N extends QueueName>(
    name: N,
    cron: string,
    payload: JobPayload<N>,
    options: { key?: string; tz?: string } = {},
  ): Promise<void> {
    const data = jobPayloads[name].parse(payload) as object;
    await this.boss.schedule(name, cron, data, {
      tz: options.tz ?? 'UTC',
      ...(options.key && { key: options.key }),
    } as never);
  }

  /** Per queue: waiting, running, and what finished or failed for good in the last 24 hours. */
  async stats(): Promise<Record<QueueName, QueueStats>> {
    const since = "now() - interval '24 hours'";
    const { rows } = await this.boss.getDb().executeSql(
      `SELECT name,
         count(*) FILTER (WHERE state IN ('created', 'retry'))::int AS queued,
         count(*) FILTER (WHERE state = 'active')::int AS active,
         count(*) FILTER (WHERE state = 'failed' AND completed_on > ${since})::int AS failed,
         count(*) FILTER (WHERE state = 'completed' AND completed_on > ${since})::int AS completed
       FROM (SELECT name, state, completed_on FROM ${this.schema}.job WHERE name = ANY($1)
             UNION ALL
             SELECT name, state, completed_on FROM ${this.schema}.archive WHERE name = ANY($1) AND completed_on > ${since}) jobs
       GROUP BY name`,
      [queueNames],
    );
    const empty: QueueStats = { queued: 0, active: 0, failed: 0, completed: 0 };
    const byName = new Map((rows as (QueueStats & { name: QueueName })[]).map((row) => [row.name, row]));
    return Object.fromEntries(
      queueNames.map((name) => {
        const row = byName.get(name);
        return [
          name,
          row
            ? { queued: row.queued, active: row.active, failed: row.failed, completed: row.completed }
            : empty,
        ];
      }),
    ) as Record<QueueName, QueueStats>;
  }

  async ping(): Promise<boolean> {
    try {
      await this.boss.getDb().executeSql('select 1', []);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Lets running jobs finish (up to `timeoutMs`), fails those still running so they are retried after
   * their retry delay rather than after their expiry (as pg-boss's own stop did), then closes the connections.
   */
  async stop(timeoutMs = 20_000): Promise<void> {
    for (const hook of this.stopHooks.splice(0)) hook();
    const workers = [...this.workers.entries()];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(workers.map(([, worker]) => worker.drain())),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    for (const [name, worker] of workers) {
      for (const id of worker.runningJobIds())
        await this.boss.fail(name, id, new Error('Nook stopped while the job ran'));
    }
    await this.boss.stop({ graceful: true, wait: true, timeout: 5000 });
  }
}
