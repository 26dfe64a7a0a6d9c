// @nook/worker: the pg-boss handlers, one per queue, each a thin call into core and media.
import {
  BackupRunner,
  BackupService,
  TrashService,
  recordRecovery,
  requeueStuckAssets,
  type MediaQueueName,
} from '@nook/core';
import type { WorkerDeps } from './deps';
import { deadLetterHandler, metadataHandler, thumbnailHandler, videoPosterHandler } from './handlers';

export type { WorkerDeps } from './deps';

/** How often pending assets without a job are looked for, besides at start. */
const STUCK_ASSET_SWEEP_MS = 10 * 60_000;
/** How soon to look again when media jobs were waiting, so nothing could be said. */
const STUCK_ASSET_RETRY_MS = 60_000;

export interface WorkerOptions {
  concurrency: Record<MediaQueueName, number>;
  /** Days deleted assets stay in the trash; purged daily at 03:30 UTC. */
  trashDays: number;
  /** The server and ingest run in this process too (`nook start`): their jobs wake the workers. */
  producersInProcess?: boolean;
}

export async function startWorkers(
  deps: WorkerDeps,
  { concurrency, trashDays, producersInProcess = false }: WorkerOptions,
): Promise<void> {
  const polling = { producersInProcess };
  await deps.queue.work('metadata', concurrency.metadata, metadataHandler(deps), polling);
  await deps.queue.work('thumbnail', concurrency.thumbnail, thumbnailHandler(deps), polling);
  await deps.queue.work('video-poster', concurrency['video-poster'], videoPosterHandler(deps), polling);
  await deps.queue.work('media-failed', 1, deadLetterHandler(deps), polling);
  await deps.queue.work(
    'trash-purge',
    1,
    async () => {
      const cutoff = new Date(Date.now() - trashDays * 24 * 60 * 60 * 1000);
      const purged = await new TrashService(deps.orm.em.fork(), deps.dataDir).empty(null, cutoff);
      deps.logger.info({ purged, trashDays }, 'trash purged');
    },
    polling,
  );
  await deps.queue.schedule('trash-purge', '30 3 * * *', {});

  // A run that fails for the target (unplugged, full) fails its job too, so pg-boss retries it once.
  await deps.queue.work(
    'backup',
    1,
    async ({ scheduleId, trigger }, job) => {
      const runner = new BackupRunner(deps.orm.em.fork(), deps.dataDir, deps.logger);
      const run = await runner.backup(scheduleId, { trigger, signal: job.signal });
      deps.logger.info({ runId: run.id, status: run.status, copied: run.filesCopied }, 'backup run finished');
      if (run.status === 'failed') throw new Error(run.error ?? 'backup failed');
    },
    polling,
  );
  await deps.queue.work(
    'backup-verify',
    1,
    async ({ scheduleId, trigger, samplePercent }, job) => {
      const runner = new BackupRunner(deps.orm.em.fork(), deps.dataDir, deps.logger);
      const run = await runner.verify(scheduleId, samplePercent, { trigger, signal: job.signal });
      deps.logger.info(
        { runId: run.id, status: run.status, corrupt: run.filesCorrupt },
        'backup verify finished',
      );
    },
    polling,
  );
  await deps.queue.work(
    'backup-tick',
    1,
    async () => {
      await new BackupService(deps.orm.em.fork(), deps.dataDir, deps.queue).sendDue();
    },
    polling,
  );
  await deps.queue.schedule('backup-tick', '* * * * *', {});

  // A row written before its first job (cut by a crash), or a job lost with the queue's database,
  // would leave an asset "processing" for ever: each worker process looks for them at start and
  // every 10 minutes, once no media job waits (two processes sending the same asset's job is
  // harmless: one per key waits). What the first sweep finds is part of what the start recovered.
  let timer: NodeJS.Timeout | undefined;
  let first = true;
  let stopped = false;
  const sweep = async () => {
    let next = STUCK_ASSET_SWEEP_MS;
    try {
      const sent = await requeueStuckAssets(deps.orm.em.fork(), deps.queue);
      if (sent === null) next = STUCK_ASSET_RETRY_MS;
      else {
        if (sent > 0) deps.logger.info({ sent }, 'pending assets without a job queued again');
        if (first) await recordRecovery(deps.queue, { assetsRequeued: sent });
        first = false;
      }
    } catch (error) {
      deps.logger.warn({ err: error }, 'looking for pending assets without a job failed');
    }
    if (!stopped) timer = setTimeout(() => void sweep(), next).unref();
  };
  void sweep();
  deps.queue.onStop(() => {
    stopped = true;
    clearTimeout(timer);
  });
}
