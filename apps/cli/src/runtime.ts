// Opens what a Nook process runs on (queue database, metadata, queue) and closes it in reverse order.
import { fileURLToPath } from 'node:url';
import {
  AssetService,
  DataDir,
  EmbeddedPostgres,
  EmbeddedPostgresError,
  JobQueue,
  ServerSecret,
  findRunningEmbeddedPostgres,
  openDatabase,
  type Config,
  type QueueName,
  type Logger,
  type MikroORM,
} from '@nook/core';

const mediaQueues: QueueName[] = ['metadata', 'thumbnail', 'video-poster'];

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
 * `nook db` runs on the same data dir (split mode). NOOK_DATABASE_URL overrides both.
 */
export async function openRuntime(
  config: Config,
  logger: Logger,
  embedded: 'own' | 'join',
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
    );
    closers.push(() => queue.stop());
    // This process owns its PostgreSQL and its workers have not started: a job still active was
    // running in a process that died. In split mode (a shared database) they wait for their expiry.
    if (embedded === 'own' && !config.databaseUrl) {
      // A file whose job was on its last attempt is marked failed here, as its handler would have:
      // left pending, the start-up sweep would send it again with fresh retries, and a file that
      // takes the process down would do so at every start.
      const assets = new AssetService(orm.em.fork(), dataDir, queue);
      const failed = await queue.failAbandoned(async (name, payload) => {
        const assetId = (payload as { assetId?: unknown } | null)?.assetId;
        if (mediaQueues.includes(name) && typeof assetId === 'string')
          await assets.markFailed(
            assetId,
            'Nook stopped while working on this file, on its last try: it may be too large or damaged for this machine',
          );
      });
      if (Object.keys(failed).length > 0)
        logger.info({ failed }, 'jobs left running by a stopped Nook failed, to be retried now');
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
