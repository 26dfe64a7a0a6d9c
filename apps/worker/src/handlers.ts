// The media pipeline's jobs: metadata, then a thumbnail (images) or a video poster (videos).
import { AssetService, type JobHandler } from '@nook/core';
import { makeThumbnails, makeVideoPoster, mediaClassOf, probeVideo, readImageMetadata } from '@nook/media';
import { assetJob } from './asset-job';
import type { WorkerDeps } from './deps';

export function metadataHandler(deps: WorkerDeps): JobHandler<'metadata'> {
  return assetJob('metadata', deps, async ({ asset, assets, file, job }) => {
    const mediaClass = mediaClassOf(asset.mime, asset.name);
    if (mediaClass === 'video') {
      const video = await probeVideo(file, { signal: job.signal });
      await assets.recordMetadata(asset.id, {
        width: video.width,
        height: video.height,
        duration: video.duration,
        videoCodec: video.codec,
        fps: video.fps,
        takenAt: video.takenAt,
        takenAtSource: video.takenAt ? 'video' : 'file',
        make: video.make,
        model: video.model,
        latitude: video.latitude,
        longitude: video.longitude,
      });
      await deps.queue.enqueue('video-poster', { assetId: asset.id }, asset.id);
      return;
    }
    if (mediaClass === 'other') {
      await assets.markReady(asset.id, { width: asset.width ?? 0, height: asset.height ?? 0 });
      return;
    }
    const image = await readImageMetadata(file, { mediaClass, signal: job.signal });
    await assets.recordMetadata(asset.id, {
      width: image.width,
      height: image.height,
      takenAt: image.takenAt,
      takenAtSource: image.takenAtSource ?? 'file',
      timeZoneOffset: image.timeZoneOffset,
      make: image.make,
      model: image.model,
      lens: image.lens,
      iso: image.iso,
      exposureTime: image.exposureTime,
      fNumber: image.fNumber,
      focalLength: image.focalLength,
      latitude: image.latitude,
      longitude: image.longitude,
    });
    await deps.queue.enqueue('thumbnail', { assetId: asset.id }, asset.id);
  });
}

export function thumbnailHandler(deps: WorkerDeps): JobHandler<'thumbnail'> {
  return assetJob('thumbnail', deps, async ({ asset, assets, file, job }) => {
    const result = await makeThumbnails(
      file,
      {
        thumbPath: deps.dataDir.derivedPath(asset.sha256, 'thumb'),
        previewPath: deps.dataDir.derivedPath(asset.sha256, 'preview'),
      },
      { mediaClass: mediaClassOf(asset.mime, asset.name), signal: job.signal },
    );
    await assets.markReady(asset.id, result);
  });
}

export function videoPosterHandler(deps: WorkerDeps): JobHandler<'video-poster'> {
  return assetJob('video-poster', deps, async ({ asset, assets, file, job }) => {
    const probe = await probeVideo(file, { signal: job.signal });
    const result = await makeVideoPoster(
      file,
      {
        thumbPath: deps.dataDir.derivedPath(asset.sha256, 'thumb'),
        previewPath: deps.dataDir.derivedPath(asset.sha256, 'preview'),
      },
      probe,
      { signal: job.signal },
    );
    await assets.markReady(asset.id, {
      width: probe.width,
      height: probe.height,
      thumbhash: result.thumbhash,
    });
  });
}

/**
 * A media job failed for good: its handler has marked the asset failed already, unless its last try
 * ended with no handler to see it (the process died, or the job ran past its expiry) — then the asset
 * would stay "processing" for ever, and this marks it. An asset no longer pending is left alone.
 */
export function deadLetterHandler(deps: WorkerDeps): JobHandler<'media-failed'> {
  return async ({ assetId }, job) => {
    const assets = new AssetService(deps.orm.em.fork(), deps.dataDir, deps.queue);
    const asset = await assets.findById(assetId);
    if (!asset || asset.deletedAt || asset.status !== 'pending') return;
    const reason = failureReason(job.output);
    deps.logger.warn({ assetId, name: asset.name, reason }, 'file failed on its last try');
    await assets.markFailed(asset.id, reason);
  };
}

/** pg-boss stores an Error's fields, or `{ value: … }` for its own expiry. */
function failureReason(output: unknown): string {
  const message = (output as { message?: unknown } | null)?.message;
  if (typeof message === 'string' && message) return message;
  if (JSON.stringify(output ?? null).includes('failed by timeout'))
    return 'Nook stopped working on this file before it finished, on its last try: it may be too large or damaged for this machine';
  return 'Processing this file failed on its last try';
}
