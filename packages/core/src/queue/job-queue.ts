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

export class JobQueue {
  private readonly workerIds = new Map<QueueName, string[]>();

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
    for (const workerId of this.workerIds.get(name) ?? []) this.boss.notifyWorker(workerId);
    return id;
  }

  /**
   * Runs `concurrency` pollers for one queue. A handler that throws fails the job, so pg-boss
   * retries it; the handler itself records a final failure where users can see it.
   */
  async work<N extends QueueName>(
    name: N,
    concurrency: number,
    handler: JobHandler<N>,
    { producersInProcess = false }: { producersInProcess?: boolean } = {},
  ): Promise<void> {
    const ids: string[] = [];
    for (let i = 0; i < concurrency; i++) {
      const id = await this.boss.work<JobPayload<N>>(
        name,
        {
          batchSize: 1,
          includeMetadata: true,
          pollingIntervalSeconds: pollingIntervalSeconds(name, producersInProcess),
        },
        async ([job]) => {
          if (!job) return;
          const payload = jobPayloads[name].parse(job.data) as JobPayload<N>;
          const expiry = new AbortController();
          const timer = setTimeout(() => expiry.abort(new Error('job expired')), job.expireInSeconds * 1000);
          try {
            await handler(payload, {
              id: job.id,
              retryCount: job.retryCount,
              retryLimit: job.retryLimit,
              isFinalAttempt: job.retryCount >= job.retryLimit,
              signal: expiry.signal,
            });
          } catch (error) {
            if (isPermanentError(error)) await this.noMoreRetries(name, job.id);
            throw error;
          } finally {
            clearTimeout(timer);
          }
        },
      );
      ids.push(id);
    }
    this.workerIds.set(name, [...(this.workerIds.get(name) ?? []), ...ids]);
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

  /** Lets running jobs finish (up to `timeoutMs`), then closes the connections. */
  async stop(timeoutMs = 20_000): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, timeout: timeoutMs });
  }
}
