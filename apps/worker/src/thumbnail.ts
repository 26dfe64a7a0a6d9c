// The `thumbnail` job: render an image asset's thumbnail and preview into <data>/derived.
import {
  AssetService,
  type DataDir,
  type JobHandler,
  type JobQueue,
  type Logger,
  type MikroORM,
} from '@nook/core';
import { makeThumbnails } from '@nook/media';

export interface WorkerDeps {
  orm: MikroORM;
  queue: JobQueue;
  dataDir: DataDir;
  logger: Logger;
}

export function thumbnailHandler({ orm, queue, dataDir, logger }: WorkerDeps): JobHandler<'thumbnail'> {
  return async ({ assetId }, job) => {
    const assets = new AssetService(orm.em.fork(), dataDir, queue);
    const asset = await assets.findById(assetId);
    if (!asset || asset.deletedAt) {
      logger.debug({ assetId }, 'thumbnail skipped: asset is gone');
      return;
    }
    try {
      const result = await makeThumbnails(await assets.resolveOriginal(asset), {
        thumbPath: dataDir.derivedPath(asset.sha256, 'thumb'),
        previewPath: dataDir.derivedPath(asset.sha256, 'preview'),
      });
      await assets.markReady(asset.id, result);
      logger.info({ assetId, name: asset.name }, 'thumbnail ready');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      logger.warn({ assetId, name: asset.name, attempt: job.retryCount + 1, reason }, 'thumbnail failed');
      if (job.isFinalAttempt) await assets.markFailed(asset.id, reason);
      throw error;
    }
  };
}
