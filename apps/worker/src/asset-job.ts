// The shape every asset job shares: load the asset, do the work, record a failure where people see it.
import {
  AssetService,
  isPermanentError,
  type Asset,
  type JobContext,
  type JobHandler,
  type MediaQueueName,
} from '@nook/core';
import type { WorkerDeps } from './deps';

export interface AssetJob {
  asset: Asset;
  assets: AssetService;
  /** The original's real path inside its library. */
  file: string;
  job: JobContext;
}

/**
 * Wraps a job's work: an asset deleted meanwhile is skipped; a failure is stored on the asset when it
 * is final (a permanent error, or the last retry) and always rethrown, so pg-boss records it.
 */
export function assetJob<N extends MediaQueueName>(
  queue: N,
  deps: WorkerDeps,
  work: (context: AssetJob) => Promise<void>,
): JobHandler<N> {
  return async ({ assetId }, job) => {
    const assets = new AssetService(deps.orm.em.fork(), deps.dataDir, deps.queue);
    const asset = await assets.findById(assetId);
    if (!asset || asset.deletedAt) {
      deps.logger.debug({ queue, assetId }, 'skipped: the asset is gone');
      return;
    }
    try {
      await work({ asset, assets, file: await assets.resolveOriginal(asset), job });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const final = job.isFinalAttempt || isPermanentError(error);
      deps.logger.warn(
        { queue, assetId, name: asset.name, attempt: job.retryCount + 1, final, reason },
        `${queue} failed`,
      );
      if (final) await assets.markFailed(asset.id, reason);
      throw error;
    }
  };
}
