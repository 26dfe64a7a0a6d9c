// pg-boss behind a typed surface: queues created with their policy before anyone works or sends.
import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import { jobPayloads, queueNames, queuePolicies, type JobPayload, type QueueName } from './jobs';

export interface JobContext {
  id: string;
  retryCount: number;
  retryLimit: number;
  /** True when this attempt failing means the job has failed for good. */
  isFinalAttempt: boolean;
}

export type JobHandler<N extends QueueName> = (payload: JobPayload<N>, job: JobContext) => Promise<void>;

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
    });
    boss.on('error', (error) => logger.error({ err: error }, 'queue error'));
    await boss.start();
    for (const name of queueNames) {
      const policy = { name, ...queuePolicies[name], ...options.policyOverrides?.[name] };
      if (await boss.getQueue(name)) await boss.updateQueue(name, policy);
      else await boss.createQueue(name, policy);
    }
    return new JobQueue(boss, logger);
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
  async work<N extends QueueName>(name: N, concurrency: number, handler: JobHandler<N>): Promise<void> {
    const ids: string[] = [];
    for (let i = 0; i < concurrency; i++) {
      const id = await this.boss.work<JobPayload<N>>(
        name,
        { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: 1 },
        async ([job]) => {
          if (!job) return;
          const payload = jobPayloads[name].parse(job.data) as JobPayload<N>;
          await handler(payload, {
            id: job.id,
            retryCount: job.retryCount,
            retryLimit: job.retryLimit,
            isFinalAttempt: job.retryCount >= job.retryLimit,
          });
        },
      );
      ids.push(id);
    }
    this.workerIds.set(name, [...(this.workerIds.get(name) ?? []), ...ids]);
    this.logger.debug({ queue: name, concurrency }, 'worker started');
  }

  async depth(name: QueueName): Promise<number> {
    return this.boss.getQueueSize(name);
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
