// Nook's own bookkeeping beside pg-boss, in a schema of its own in the queue's PostgreSQL: which process
// runs which job (so a dead process's jobs can be found without reading pg-boss's tables), how jobs
// ended (the jobs page's 24 h figures), and what recovery did at each start.
import { hostname } from 'node:os';
import pg from 'pg';
import type PgBoss from 'pg-boss';

export interface Lease {
  jobId: string;
  queue: string;
  /** The job's singleton key (the asset id, for the media queues). */
  key: string | null;
}

export type Outcome = 'completed' | 'failed' | 'retried';

/** What recovery did at a process's start; each figure is added up over the steps that report it. */
export interface RecoveryCounts {
  /** Jobs a dead process left running, made due again. */
  jobsRetried?: number;
  /** Jobs a dead process left running on their last try, failed for good. */
  jobsFailed?: number;
  /** Files whose last try ended with their process gone, marked failed. */
  assetsFailed?: number;
  /** Pending files without any job, sent through the pipeline again. */
  assetsRequeued?: number;
  /** Uploads whose bytes had all arrived before a crash, made into assets. */
  uploadsCompleted?: number;
  /** Temp files and upload records older than the upload expiry, removed. */
  tempFilesRemoved?: number;
}

export const recoveryKeys = [
  'jobsRetried',
  'jobsFailed',
  'assetsFailed',
  'assetsRequeued',
  'uploadsCompleted',
  'tempFilesRemoved',
] as const satisfies readonly (keyof RecoveryCounts)[];

export interface RecoveryEntry {
  /** The process (`start`, `serve`, `worker`, `ingest`) and the host it ran on. */
  process: string;
  host: string;
  startedAt: Date;
  counts: Required<RecoveryCounts>;
}

/** How many recovery entries are kept. */
const RECOVERY_ROWS = 20;
/** Job outcomes are counted per hour and kept this long. */
const OUTCOME_DAYS = 7;

export class QueueState {
  readonly processId = crypto.randomUUID();
  private readonly s: string;
  /** A pool of its own: a fetch and the leases of what it took are one transaction on one connection. */
  private readonly pool: pg.Pool;
  private readonly db: PgBoss.Db;

  constructor(
    connectionString: string,
    schema: string,
    private readonly kind: string,
  ) {
    this.s = `"${schema}_nook"`;
    // Idle connections are kept between the heartbeats and idle polls rather than opened anew each time.
    this.pool = new pg.Pool({
      connectionString,
      max: 2,
      idleTimeoutMillis: 5 * 60_000,
      application_name: 'nook',
    });
    this.pool.on('error', () => {});
    this.db = { executeSql: (text, values) => this.pool.query(text, values) };
  }

  /**
   * Runs `fetch` (pg-boss's, handed this transaction's connection) and leases what it returns in the
   * same transaction: a job is never active without a lease naming its process, so a process killed
   * at any moment leaves nothing for the expiry alone to find, and a sweep never takes a job being
   * fetched for one without a job. A failed fetch (pg-boss swallows its unique-key conflicts) returns none.
   */
  async fetchLeased<T extends { id: string; singletonKey: string | null }>(
    queue: string,
    fetch: (db: PgBoss.Db) => Promise<T[]>,
  ): Promise<T[]> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const jobs = await fetch({ executeSql: (text, values) => client.query(text, values) });
      if (jobs.length > 0)
        await client.query(
          `INSERT INTO ${this.s}.lease (queue, job_id, key, process_id)
           SELECT $1, job_id, key, $4 FROM unnest($2::uuid[], $3::text[]) AS l(job_id, key)`,
          [queue, jobs.map((job) => job.id), jobs.map((job) => job.singletonKey), this.processId],
        );
      await client.query('COMMIT');
      return jobs;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** Creates the schema and tables if missing (serialised, as processes start together), then registers this process. */
  async start(): Promise<void> {
    // No parameters: one implicit transaction, so the advisory lock holds for every statement.
    await this.db.executeSql(
      `SELECT pg_advisory_xact_lock(hashtext('nook queue state ' || ${literal(this.s)}));
       CREATE SCHEMA IF NOT EXISTS ${this.s};
       CREATE TABLE IF NOT EXISTS ${this.s}.process (
         id uuid PRIMARY KEY,
         kind text NOT NULL,
         host text NOT NULL,
         pid integer NOT NULL,
         started_at timestamptz NOT NULL DEFAULT now(),
         heartbeat_at timestamptz NOT NULL DEFAULT now());
       CREATE TABLE IF NOT EXISTS ${this.s}.lease (
         queue text NOT NULL,
         job_id uuid NOT NULL,
         key text,
         process_id uuid NOT NULL,
         started_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (queue, job_id));
       CREATE INDEX IF NOT EXISTS lease_process ON ${this.s}.lease (process_id);
       CREATE TABLE IF NOT EXISTS ${this.s}.outcome (
         queue text NOT NULL,
         hour timestamptz NOT NULL,
         completed integer NOT NULL DEFAULT 0,
         failed integer NOT NULL DEFAULT 0,
         retried integer NOT NULL DEFAULT 0,
         PRIMARY KEY (queue, hour));
       CREATE TABLE IF NOT EXISTS ${this.s}.recovery (
         process_id uuid PRIMARY KEY,
         kind text NOT NULL,
         host text NOT NULL,
         started_at timestamptz NOT NULL DEFAULT now(),
         counts jsonb NOT NULL DEFAULT '{}');`,
      [],
    );
    await this.register();
    await this.prune();
  }

  private async register(): Promise<void> {
    await this.db.executeSql(
      `INSERT INTO ${this.s}.process (id, kind, host, pid) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
      [this.processId, this.kind, hostname(), process.pid],
    );
  }

  /** Says this process is alive; registers it again if a peer took it for dead meanwhile. */
  async heartbeat(): Promise<void> {
    const { rows } = await this.db.executeSql(
      `UPDATE ${this.s}.process SET heartbeat_at = now() WHERE id = $1 RETURNING id`,
      [this.processId],
    );
    if (rows.length === 0) await this.register();
  }

  /** Forgets old outcome counts and recovery entries. */
  async prune(): Promise<void> {
    await this.db.executeSql(
      `DELETE FROM ${this.s}.outcome WHERE hour < now() - interval '${OUTCOME_DAYS} days';
       DELETE FROM ${this.s}.recovery WHERE process_id NOT IN
         (SELECT process_id FROM ${this.s}.recovery ORDER BY started_at DESC LIMIT ${RECOVERY_ROWS});`,
      [],
    );
  }

  /** Unregisters this process and closes the pool. */
  async stop(): Promise<void> {
    try {
      await this.db.executeSql(`DELETE FROM ${this.s}.process WHERE id = $1`, [this.processId]);
    } finally {
      await this.pool.end();
    }
  }

  /** Drops a job's lease and counts how it ended, in one statement. */
  async release(queue: string, jobId: string, outcome: Outcome | null): Promise<void> {
    if (!outcome) {
      await this.db.executeSql(`DELETE FROM ${this.s}.lease WHERE queue = $1 AND job_id = $2`, [
        queue,
        jobId,
      ]);
      return;
    }
    await this.db.executeSql(
      `WITH gone AS (DELETE FROM ${this.s}.lease WHERE queue = $1 AND job_id = $2)
       INSERT INTO ${this.s}.outcome (queue, hour, ${outcome}) VALUES ($1, date_trunc('hour', now()), 1)
       ON CONFLICT (queue, hour) DO UPDATE SET ${outcome} = outcome.${outcome} + 1`,
      [queue, jobId],
    );
  }

  /** Counts outcomes decided outside a lease (recovery of another process's jobs). */
  async count(queue: string, outcome: Outcome): Promise<void> {
    await this.db.executeSql(
      `INSERT INTO ${this.s}.outcome (queue, hour, ${outcome}) VALUES ($1, date_trunc('hour', now()), 1)
       ON CONFLICT (queue, hour) DO UPDATE SET ${outcome} = outcome.${outcome} + 1`,
      [queue],
    );
  }

  /**
   * Takes the leases of processes that are gone: with `everyoneElse`, of every other process (a
   * process that owns the queue's database and has not started its workers yet); otherwise of those
   * whose heartbeat is older than `staleSeconds`. Moving them to this process claims them, so of
   * several processes sweeping at once each lease goes to one; the caller releases each once its job
   * is recovered, so a process killed in between leaves them to the next sweep rather than losing them.
   */
  async claimAbandoned(options: { everyoneElse: true } | { staleSeconds: number }): Promise<Lease[]> {
    const dead =
      'everyoneElse' in options
        ? `DELETE FROM ${this.s}.process WHERE id <> $1 RETURNING id`
        : `DELETE FROM ${this.s}.process WHERE id <> $1 AND heartbeat_at < now() - make_interval(secs => $2) RETURNING id`;
    const { rows } = await this.db.executeSql(
      `WITH dead AS (${dead})
       UPDATE ${this.s}.lease l SET process_id = $1
       WHERE l.process_id <> $1 AND (l.process_id IN (SELECT id FROM dead)
         OR NOT EXISTS (SELECT 1 FROM ${this.s}.process p WHERE p.id = l.process_id))
       RETURNING l.queue, l.job_id AS "jobId", l.key`,
      'everyoneElse' in options ? [this.processId] : [this.processId, options.staleSeconds],
    );
    return rows as Lease[];
  }

  /** Jobs running now, per queue, in processes whose heartbeat is recent. */
  async running(staleSeconds: number): Promise<Map<string, number>> {
    const { rows } = await this.db.executeSql(
      `SELECT l.queue, count(*)::int AS count FROM ${this.s}.lease l
       JOIN ${this.s}.process p ON p.id = l.process_id
       WHERE p.heartbeat_at > now() - make_interval(secs => $1)
       GROUP BY l.queue`,
      [staleSeconds],
    );
    return new Map((rows as { queue: string; count: number }[]).map((row) => [row.queue, row.count]));
  }

  /** The singleton keys of the jobs of `queues` running in any process. */
  async runningKeys(queues: readonly string[]): Promise<Set<string>> {
    const { rows } = await this.db.executeSql(
      `SELECT DISTINCT key FROM ${this.s}.lease WHERE queue = ANY($1) AND key IS NOT NULL`,
      [queues],
    );
    return new Set((rows as { key: string }[]).map((row) => row.key));
  }

  /** Jobs that completed, failed for good, or failed to be retried, per queue, over the last `hours`. */
  async outcomes(hours: number): Promise<Map<string, Record<Outcome, number>>> {
    const { rows } = await this.db.executeSql(
      `SELECT queue, sum(completed)::int AS completed, sum(failed)::int AS failed, sum(retried)::int AS retried
       FROM ${this.s}.outcome WHERE hour > now() - make_interval(hours => $1) GROUP BY queue`,
      [hours],
    );
    return new Map(
      (rows as (Record<Outcome, number> & { queue: string })[]).map(({ queue, ...counts }) => [
        queue,
        counts,
      ]),
    );
  }

  /** Adds to what this process's start recovered; the first call makes its entry, even with nothing to count. */
  async recordRecovery(counts: RecoveryCounts): Promise<void> {
    const known = Object.fromEntries(
      recoveryKeys.map((key) => [key, Math.max(0, Math.trunc(counts[key] ?? 0))]),
    );
    await this.db.executeSql(
      `INSERT INTO ${this.s}.recovery (process_id, kind, host, counts) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (process_id) DO UPDATE SET counts = (
         SELECT jsonb_object_agg(key, coalesce((recovery.counts ->> key)::int, 0) + (EXCLUDED.counts ->> key)::int)
         FROM jsonb_object_keys(EXCLUDED.counts) AS key)`,
      [this.processId, this.kind, hostname(), JSON.stringify(known)],
    );
  }

  /** The latest starts' recovery entries, newest first. */
  async recoveries(limit: number): Promise<RecoveryEntry[]> {
    const { rows } = await this.db.executeSql(
      `SELECT kind, host, started_at, counts FROM ${this.s}.recovery ORDER BY started_at DESC LIMIT $1`,
      [limit],
    );
    return (rows as { kind: string; host: string; started_at: Date; counts: Record<string, number> }[]).map(
      (row) => ({
        process: row.kind,
        host: row.host,
        startedAt: row.started_at,
        counts: Object.fromEntries(
          recoveryKeys.map((key) => [key, row.counts[key] ?? 0]),
        ) as Required<RecoveryCounts>,
      }),
    );
  }
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
