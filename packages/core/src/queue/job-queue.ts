// pg-boss behind a typed surface: queues created with their policy before anyone works or sends. Only
// pg-boss's public API is used; what it does not offer (who runs which job, outcome counts) is kept in
// Nook's own tables beside it (queue-state.ts).
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
import { QueueState, type Lease, type Outcome, type RecoveryCounts, type RecoveryEntry } from './queue-state';

export interface JobContext {
  id: string;
  retryCount: number;
  retryLimit: number;
  /** True when this attempt failing means the job has failed for good. */
  isFinalAttempt: boolean;
  /** Aborted when the job reaches its expiry, so child processes are killed rather than left running. */
  signal: AbortSignal;
  /** What the job carries from before: for a dead letter, the failure that sent it there. */
  output: unknown;
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
  /** Which Nook process this is (`start`, `serve`, `worker`, `ingest`, `cli`): shown with what its start recovered. */
  processKind?: string;
  /** How often this process says it is alive and looks for the jobs of processes that stopped saying so. */
  heartbeatSeconds?: number;
  /** How long a process may stay silent before its running jobs are taken for abandoned. */
  staleSeconds?: number;
}

/** A heartbeat every 20 s; a process silent for 70 s has died: its jobs run again within about 1.5 minutes. */
const HEARTBEAT_SECONDS = 20;
const STALE_SECONDS = 70;

export interface RecoveredJobs {
  /** Made due again at once, per queue. */
  retried: Partial<Record<QueueName, number>>;
  /** On their last try: failed for good (a media job's dead letter then marks its asset failed). */
  failed: Partial<Record<QueueName, number>>;
}

/** pg-boss's fetch, complete and fail, and Nook's lease of each job it runs. */
interface QueueBackend {
  boss: PgBoss;
  state: QueueState;
  logger: Logger;
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
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private stopping = false;
  private woken = false;
  private wakeUp: (() => void) | null = null;
  private lastFoundAt = 0;
  private loopDone: Promise<void> = Promise.resolve();

  private readonly boss: PgBoss;
  private readonly state: QueueState;
  private readonly logger: Logger;

  constructor(
    backend: QueueBackend,
    private readonly name: N,
    private readonly concurrency: number,
    private readonly handler: JobHandler<N>,
    private readonly idleMs: number,
  ) {
    this.boss = backend.boss;
    this.state = backend.state;
    this.logger = backend.logger;
  }

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
    for (const timer of this.retryTimers) clearTimeout(timer);
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
          const jobs = await this.state.fetchLeased(this.name, (db) =>
            this.boss.fetch<JobPayload<N>>(this.name, { batchSize: free, includeMetadata: true, db }),
          );
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

  /** Wakes the loop when a job failed here comes due again, so a retry waits for its delay, not a poll. */
  private async wakeForRetry(id: string): Promise<void> {
    const job = await this.boss.getJobById(this.name, id);
    if (!job || job.state !== 'retry') return;
    const timer = setTimeout(
      () => {
        this.retryTimers.delete(timer);
        this.wake();
      },
      Math.max(0, new Date(job.startAfter).getTime() - Date.now()) + 100,
    );
    timer.unref();
    this.retryTimers.add(timer);
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
   * failure where users can see it. At the expiry the signal aborts the work and the job is failed. A
   * permanent error is failed, then cancelled before its retry comes due: pg-boss keeps the error,
   * and nothing runs the job again.
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
        output: job.output ?? null,
      });
      await Promise.race([work, expired]);
    } catch (error) {
      failure = { error };
    } finally {
      clearTimeout(timer);
    }
    let outcome: Outcome;
    try {
      if (!failure) {
        await this.boss.complete(this.name, job.id);
        outcome = 'completed';
      } else {
        await this.boss.fail(this.name, job.id, failure.error as object);
        const permanent = isPermanentError(failure.error);
        if (permanent && job.retryCount < job.retryLimit) await this.boss.cancel(this.name, job.id);
        outcome = permanent || job.retryCount >= job.retryLimit ? 'failed' : 'retried';
        if (outcome === 'retried') await this.wakeForRetry(job.id);
      }
    } catch (error) {
      // The job stays active, leased to this process: the lease sweep or its expiry retries it.
      this.logger.error({ err: error, queue: this.name, jobId: job.id }, 'recording the job outcome failed');
      return;
    }
    await this.state
      .release(this.name, job.id, outcome)
      .catch((error: unknown) =>
        this.logger.warn({ err: error, queue: this.name, jobId: job.id }, 'releasing the job failed'),
      );
  }
}

export class JobQueue {
  private readonly workers = new Map<
    QueueName,
    { wake(): void; drain(): Promise<void>; runningJobIds(): string[] }
  >();
  private readonly stopHooks: (() => void)[] = [];
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private readonly backend: QueueBackend;

  private constructor(
    private readonly boss: PgBoss,
    private readonly state: QueueState,
    private readonly logger: Logger,
    private readonly staleSeconds: number,
  ) {
    this.backend = { boss, state, logger };
  }

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
      // Nook's crons fire at most once a minute: pg-boss looks for due ones (5 s by default) and sends
      // them (30 s) at its slowest pace, and its maintenance (expiring and archiving jobs, 2 min by
      // default) runs every 5 min: a lease finds a dead process's jobs long before their expiry.
      cronWorkerIntervalSeconds: 45,
      cronMonitorIntervalSeconds: 45,
      maintenanceIntervalSeconds: 300,
      // Passed on to pg's pool: connections are kept between idle polls rather than opened anew.
      ...({ idleTimeoutMillis: 5 * 60_000 } as object),
    });
    boss.on('error', (error) => logger.error({ err: error }, 'queue error'));
    await boss.start();
    // In order: a dead-letter queue exists before the queues that name it.
    for (const name of queueNames) {
      const policy = { name, ...queuePolicies[name], ...options.policyOverrides?.[name] };
      if (await boss.getQueue(name)) await boss.updateQueue(name, policy);
      else await boss.createQueue(name, policy);
    }
    const state = new QueueState(
      connection.connectionString,
      connection.schema,
      options.processKind ?? 'nook',
    );
    await state.start();
    const queue = new JobQueue(boss, state, logger, options.staleSeconds ?? STALE_SECONDS);
    const heartbeatMs = (options.heartbeatSeconds ?? HEARTBEAT_SECONDS) * 1000;
    queue.heartbeatTimer = setInterval(() => void queue.beat(), heartbeatMs);
    return queue;
  }

  /**
   * Says this process is alive; a process that runs workers also takes over the jobs of processes
   * that stopped saying so (split mode: a `nook worker` killed by a power cut), so they run again
   * within about a minute and a half instead of at their expiry, hours away for a scan or a backup.
   */
  private async beat(): Promise<void> {
    try {
      await this.state.heartbeat();
      if (this.workers.size === 0) return;
      const recovered = await this.recoverAbandoned();
      const retried = sum(recovered.retried);
      const failed = sum(recovered.failed);
      if (retried + failed > 0) {
        this.logger.warn(recovered, 'jobs of a Nook process that stopped answering taken over');
        await this.state.recordRecovery({ jobsRetried: retried, jobsFailed: failed });
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'queue heartbeat failed');
    }
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
      this.backend,
      name,
      concurrency,
      handler,
      pollingIntervalSeconds(name, producersInProcess) * 1000,
    );
    this.workers.set(name, worker);
    worker.start();
    this.logger.debug({ queue: name, concurrency }, 'worker started');
  }

  /**
   * Takes over the jobs that processes which are gone were running, as their leases say: with
   * `everyoneElse`, of every other process — only for a process that owns the queue's database and has
   * not started its workers, so that no live process can be running any of them (`nook start`);
   * otherwise of processes whose heartbeat is stale. A job with tries left is cancelled and resumed,
   * which makes it due at once (its next fetch counts the attempt); one on its last try is failed for
   * good, which for a media job sends its dead letter, so its asset is marked failed rather than sent
   * again at every start when the file takes the process down.
   */
  async recoverAbandoned({ everyoneElse = false }: { everyoneElse?: boolean } = {}): Promise<RecoveredJobs> {
    if (everyoneElse && this.workers.size > 0)
      throw new Error("recovering every other process's jobs must happen before any worker starts");
    const leases = await this.state.claimAbandoned(
      everyoneElse ? { everyoneElse: true } : { staleSeconds: this.staleSeconds },
    );
    const recovered: RecoveredJobs = { retried: {}, failed: {} };
    for (const lease of leases) {
      const outcome = await this.recoverJob(lease).catch((error: unknown) => {
        this.logger.error({ err: error, ...lease }, 'recovering an abandoned job failed');
        return undefined;
      });
      // A failure keeps the lease, now this process's: its next sweep, or the next start's, retries.
      if (outcome === undefined) continue;
      await this.state.release(lease.queue, lease.jobId, null);
      if (!outcome) continue;
      const name = lease.queue as QueueName;
      const counts = outcome === 'failed' ? recovered.failed : recovered.retried;
      counts[name] = (counts[name] ?? 0) + 1;
      await this.state.count(name, outcome);
    }
    return recovered;
  }

  private async recoverJob({ queue, jobId }: Lease): Promise<Outcome | null> {
    const job = await this.boss.getJobById(queue, jobId);
    // Finished after all (the lease outlived it), or already failed by its expiry.
    if (!job || job.state !== 'active') return null;
    if (job.retryCount >= job.retryLimit) {
      await this.boss.fail(queue, jobId, {
        message:
          'Nook stopped while working on this, on its last try: it may be too large or damaged for this machine',
      });
      return 'failed';
    }
    await this.boss.cancel(queue, jobId);
    try {
      await this.boss.resume(queue, jobId);
    } catch (error) {
      // Unique by key: a job for the same key already waits, and will do this one's work.
      if ((error as { code?: string }).code !== '23505') throw error;
    }
    return 'retried';
  }

  /** How many jobs of `names` wait (created, or failed and waiting for their retry). */
  async waiting(names: readonly QueueName[]): Promise<number> {
    const sizes = await Promise.all(names.map((name) => this.boss.getQueueSize(name)));
    return sizes.reduce((total, size) => total + size, 0);
  }

  /** The singleton keys (asset ids, for the media queues) of the jobs of `names` running in any live process. */
  async runningKeys(names: readonly QueueName[]): Promise<Set<string>> {
    return this.state.runningKeys(names);
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

  /**
   * Per queue: waiting (pg-boss's queue size), running (the leases of live processes), and what
   * completed or failed for good in the last 24 hours (Nook's own counts, as jobs end).
   */
  async stats(): Promise<Record<QueueName, QueueStats>> {
    const [waiting, running, outcomes] = await Promise.all([
      Promise.all(queueNames.map((name) => this.boss.getQueueSize(name))),
      this.state.running(this.staleSeconds),
      this.state.outcomes(24),
    ]);
    return Object.fromEntries(
      queueNames.map((name, i) => [
        name,
        {
          queued: waiting[i] ?? 0,
          active: running.get(name) ?? 0,
          failed: outcomes.get(name)?.failed ?? 0,
          completed: outcomes.get(name)?.completed ?? 0,
        },
      ]),
    ) as Record<QueueName, QueueStats>;
  }

  /** Adds to what this process's start recovered (jobs, assets, uploads, temp files), for the jobs page. */
  async recordRecovery(counts: RecoveryCounts): Promise<void> {
    await this.state.recordRecovery(counts);
  }

  /** What the latest starts recovered, newest first. */
  async recoveries(limit = 5): Promise<RecoveryEntry[]> {
    return this.state.recoveries(limit);
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
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const hook of this.stopHooks.splice(0)) hook();
    const workers = [...this.workers.entries()];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(workers.map(([, worker]) => worker.drain())),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    for (const [name, worker] of workers) {
      for (const id of worker.runningJobIds()) {
        await this.boss.fail(name, id, new Error('Nook stopped while the job ran'));
        await this.state.release(name, id, 'retried');
      }
    }
    await this.state
      .stop()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'unregistering this process failed'));
    await this.boss.stop({ graceful: true, wait: true, timeout: 5000 });
  }
}

function sum(counts: Partial<Record<string, number>>): number {
  return Object.values(counts).reduce<number>((total, count) => total + (count ?? 0), 0);
}
