// Opens what a Nook process runs on (queue database, metadata, queue) and closes it in reverse order.
import { fileURLToPath } from 'node:url';
import {
  DataDir,
  EmbeddedPostgres,
  EmbeddedPostgresError,
  JobQueue,
  ServerSecret,
  findRunningEmbeddedPostgres,
  openDatabase,
  recordRecovery,
  type Config,
  type Logger,
  type MikroORM,
} from '@nook/core';

export const webRoot = fileURLToPath(new URL('../../web/build', import.meta.url));

export { version } from './version';

export interface Runtime {
  config: Config;
  logger: Logger;
  dataDir: DataDir;
  orm: MikroORM;
  queue: JobQueue;
  secret: ServerSecret;
  close(): Promise<void>;
}

type Closer = () => Promise<void>;

/**
 * `own`: this process starts the embedded PostgreSQL (nook start). `join`: it uses one that
 * `nook db` runs on the same data dir (split mode). NOOK_DATABASE_URL overrides both. `processKind`
 * names the process beside what its start recovered.
 */
export async function openRuntime(
  config: Config,
  logger: Logger,
  embedded: 'own' | 'join',
  processKind: string = embedded === 'own' ? 'start' : 'cli',
): Promise<Runtime> {
  const closers: Closer[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) {
      await closer().catch((error: unknown) => logger.error({ err: error }, 'shutdown step failed'));
    }
  };
  try {
    const dataDir = new DataDir(config.dataDir, config.libraryRoots);
    await dataDir.ensure();
    const connectionString = await queueDatabase(config, logger, embedded, closers);
    const orm = await openDatabase(dataDir.root, {
      log: (message) => logger.info({ component: 'metadata' }, message),
    });
    closers.push(() => orm.close());
    const secret = await ServerSecret.load(dataDir.root);
    const queue = await JobQueue.start(
      { connectionString, schema: config.queueSchema },
      logger.child({ component: 'queue' }),
      { processKind },
    );
    closers.push(() => queue.stop());
    // This process owns its PostgreSQL and its workers have not started: every job another process
    // had leased was running in a process that died. In split mode (a shared database) the workers'
    // heartbeat sweep takes over the jobs of processes that stopped answering.
    if (embedded === 'own' && !config.databaseUrl) {
      const { retried, failed } = await queue.recoverAbandoned({ everyoneElse: true });
      const count = (counts: Record<string, number | undefined>) =>
        Object.values(counts).reduce<number>((total, n) => total + (n ?? 0), 0);
      if (count(retried) + count(failed) > 0)
        logger.info(
          { retried, failed },
          'jobs left running by a stopped Nook retried now, or failed on their last try',
        );
      await recordRecovery(queue, { jobsRetried: count(retried), jobsFailed: count(failed) });
    }
    return { config, logger, dataDir, orm, queue, secret, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function queueDatabase(
  config: Config,
  logger: Logger,
  embedded: 'own' | 'join',
  closers: Closer[],
): Promise<string> {
  if (config.databaseUrl) return config.databaseUrl;
  if (embedded === 'own') {
    const postgres = await EmbeddedPostgres.start(config.dataDir, logger.child({ component: 'postgres' }));
    closers.push(() => postgres.stop());
    return postgres.connectionString;
  }
  const url = await findRunningEmbeddedPostgres(config.dataDir);
  if (!url) {
    throw new EmbeddedPostgresError(
      `no embedded PostgreSQL is running for ${config.dataDir}: start \`nook db\` first, or set NOOK_DATABASE_URL`,
    );
  }
  return url;
}
