// assets.*: the timeline and single assets.
import type { Asset } from '@nook/core';
import { AssetService, InvalidCursorError } from '@nook/core';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { protectedProcedure, router } from '../trpc';

/** What clients see of an asset; URLs are derived here so clients never build paths. */
export function toAssetDto(asset: Asset) {
  const version = asset.sha256.slice(0, 16);
  return {
    id: asset.id,
    name: asset.name,
    kind: asset.kind,
    mime: asset.mime,
    size: asset.size,
    width: asset.width,
    height: asset.height,
    duration: asset.duration,
    takenAt: asset.takenAt.toISOString(),
    createdAt: asset.createdAt.toISOString(),
    status: asset.status,
    error: asset.error,
    sha256: asset.sha256,
    originalUrl: `/api/assets/${asset.id}/original`,
    thumbnailUrl:
      asset.status === 'ready' && asset.kind === 'image'
        ? `/api/assets/${asset.id}/thumbnail?size=thumb&v=${version}`
        : null,
    previewUrl:
      asset.status === 'ready' && asset.kind === 'image'
        ? `/api/assets/${asset.id}/thumbnail?size=preview&v=${version}`
        : null,
  };
}

export type AssetDto = ReturnType<typeof toAssetDto>;

export const assetsRouter = router({
  list: protectedProcedure
    .input(
      z.object({
        limit: z.number().int().min(1).max(500).default(100),
        cursor: z.string().max(200).nullish(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const assets = new AssetService(ctx.em, ctx.dataDir, ctx.queue);
      try {
        const page = await assets.list({ ownerId: ctx.user.id, limit: input.limit, cursor: input.cursor });
        return { items: page.items.map(toAssetDto), nextCursor: page.nextCursor };
      } catch (error) {
        if (error instanceof InvalidCursorError)
          throw new TRPCError({ code: 'BAD_REQUEST', message: error.message });
        throw error;
      }
    }),

  get: protectedProcedure.input(z.object({ id: z.uuid() })).query(async ({ ctx, input }) => {
    const asset = await new AssetService(ctx.em, ctx.dataDir, ctx.queue).findOwned(input.id, ctx.user.id);
    if (!asset) throw new TRPCError({ code: 'NOT_FOUND', message: 'asset not found' });
    return toAssetDto(asset);
  }),
});
