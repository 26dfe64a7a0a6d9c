// assets.*: the timeline and single assets.
import type { AssetSummaryRow, AssetView } from '@nook/core';
import { AssetService, SearchService, TrashService } from '@nook/core';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { protectedProcedure, router, uploadProcedure } from '../trpc';
import { ids, timelineFilters, toFilters } from './filters';

/** Images have thumbnails, videos have posters; both live under the same URL, versioned by content. */
function assetUrls(id: string, kind: string, status: string, version: string) {
  const hasDerived = status === 'ready' && kind !== 'other';
  return {
    originalUrl: `/api/assets/${id}/original`,
    thumbnailUrl: hasDerived ? `/api/assets/${id}/thumbnail?size=thumb&v=${version}` : null,
    previewUrl: hasDerived ? `/api/assets/${id}/thumbnail?size=preview&v=${version}` : null,
  };
}

/**
 * An asset in a grid page (timeline, search): what a tile and the viewer's first frame need. URLs are
 * derived here so clients never build paths. SQLite writes the same item as JSON for the timeline's
 * hot path (timelineJsonRows in packages/core/src/sql/hot-reads.ts); hot-reads.test.ts holds the two
 * together.
 */
export function toAssetSummary(row: AssetSummaryRow) {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    mime: row.mime,
    width: row.width,
    height: row.height,
    duration: row.duration,
    takenAt: new Date(row.takenAt).toISOString(),
    timeZoneOffset: row.timeZoneOffset,
    favorite: row.favorite === 1,
    description: row.description,
    thumbhash: row.thumbhash,
    status: row.status,
    error: row.error,
    ...assetUrls(row.id, row.kind, row.status, row.version),
  };
}

export type AssetSummary = ReturnType<typeof toAssetSummary>;

/** All a client is told of one asset: the summary and the rest of its metadata. */
export function toAssetDto(asset: AssetView) {
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
    takenAtSource: asset.takenAtSource,
    timeZoneOffset: asset.timeZoneOffset,
    createdAt: asset.createdAt.toISOString(),
    camera: { make: asset.make, model: asset.model, lens: asset.lens },
    exposure: {
      iso: asset.iso,
      exposureTime: asset.exposureTime,
      fNumber: asset.fNumber,
      focalLength: asset.focalLength,
    },
    location:
      asset.latitude !== null && asset.longitude !== null
        ? { latitude: asset.latitude, longitude: asset.longitude }
        : null,
    video: asset.kind === 'video' ? { codec: asset.videoCodec, fps: asset.fps } : null,
    favorite: asset.favorite,
    description: asset.description,
    thumbhash: asset.thumbhash,
    status: asset.status,
    error: asset.error,
    sha256: asset.sha256,
    ...assetUrls(asset.id, asset.kind, asset.status, asset.sha256.slice(0, 16)),
  } satisfies AssetSummary & Record<string, unknown>;
}

export type AssetDto = ReturnType<typeof toAssetDto>;

const page = { limit: z.number().int().min(1).max(500).default(100), cursor: z.string().max(200).nullish() };

/** assets.list's input; the server's hot path (apps/server/src/response-memo.ts) reads it too. */
export const listInput = z.object({
  ...page,
  direction: z.enum(['older', 'newer']).default('older'),
  filters: timelineFilters,
});

export const assetsRouter = router({
  list: protectedProcedure.input(listInput).query(({ ctx, input }) => {
    const result = ctx.reads.timeline({
      ownerId: ctx.user.id,
      limit: input.limit,
      cursor: input.cursor,
      direction: input.direction,
      filters: toFilters(input.filters),
    });
    return { items: result.items.map(toAssetSummary), nextCursor: result.nextCursor };
  }),

  /** Counts per month (UTC) for the timeline's date scrubber. */
  buckets: protectedProcedure
    .input(z.object({ filters: timelineFilters }))
    .query(({ ctx, input }) => ctx.reads.monthBuckets(ctx.user.id, toFilters(input.filters))),

  /** The cameras (make and model) of the caller's photos, most used first, for the search filter. */
  cameras: protectedProcedure.query(({ ctx }) => ctx.reads.cameras(ctx.user.id)),

  get: protectedProcedure.input(z.object({ id: z.uuid() })).query(async ({ ctx, input }) => {
    const asset = await new AssetService(ctx.em, ctx.dataDir, ctx.queue).findOwned(input.id, ctx.user.id);
    if (!asset) throw new TRPCError({ code: 'NOT_FOUND', message: 'asset not found' });
    return {
      ...toAssetDto(asset),
      path: asset.path,
      library: { id: asset.library.id, name: asset.library.getEntity().name },
    };
  }),

  update: protectedProcedure
    .input(
      z.object({
        id: z.uuid(),
        favorite: z.boolean().optional(),
        description: z.string().max(4000).nullable().optional(),
        takenAt: z.iso.datetime({ offset: true }).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const asset = await new AssetService(ctx.em, ctx.dataDir, ctx.queue).update(ctx.user.id, input.id, {
        favorite: input.favorite,
        description: input.description,
        takenAt: input.takenAt ? new Date(input.takenAt) : undefined,
      });
      return toAssetDto(asset);
    }),

  /** Favorites (or unfavorites) a selection in one request; those already so are left alone. */
  favorite: protectedProcedure
    .input(z.object({ ids, favorite: z.boolean() }))
    .mutation(async ({ ctx, input }) => ({
      changed: await new AssetService(ctx.em, ctx.dataDir, ctx.queue).setFavorite(
        ctx.user.id,
        input.ids,
        input.favorite,
      ),
    })),

  /** Moves to the trash. */
  delete: protectedProcedure.input(z.object({ ids })).mutation(async ({ ctx, input }) => ({
    trashed: await new TrashService(ctx.em, ctx.dataDir).trash(ctx.user.id, input.ids),
  })),

  restore: protectedProcedure.input(z.object({ ids })).mutation(async ({ ctx, input }) => ({
    restored: await new TrashService(ctx.em, ctx.dataDir).restore(ctx.user.id, input.ids),
  })),

  /**
   * Which of these SHA-256 hashes the caller already has, so an uploader skips them before sending a
   * byte: exactly those an upload would answer as duplicates (in the caller's uploads library, not in
   * the trash, the original whole on disk). A copy in a watched folder or a lost original does not
   * count, so such files are sent. `lost`: those the caller sent and Nook lost (see
   * AssetService.hashStates), for an uploader that remembers what it sent (`nook watch`). A mutation
   * only because a batch of hashes is too long for a GET URL; it changes nothing, and upload-scoped
   * tokens may call it.
   */
  checkExisting: uploadProcedure
    .input(
      z.object({
        sha256: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'expected a lower-case hex SHA-256')).max(1000),
      }),
    )
    .mutation(({ ctx, input }) =>
      new AssetService(ctx.em, ctx.dataDir, ctx.queue).hashStates(ctx.user.id, input.sha256),
    ),

  duplicates: protectedProcedure
    .input(
      z.object({
        limit: z.number().int().min(1).max(200).default(50),
        cursor: z
          .string()
          .regex(/^[0-9a-f]{64}$/)
          .nullish(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const result = await new SearchService(ctx.em).duplicates(
        ctx.user.id,
        input.limit,
        input.cursor ?? null,
      );
      return {
        nextCursor: result.nextCursor,
        groups: result.groups.map((group) => ({
          sha256: group.sha256,
          size: group.size,
          assets: group.assets.map((asset) => ({
            ...toAssetDto(asset),
            path: asset.path,
            libraryName: asset.library.getEntity().name,
          })),
        })),
      };
    }),
});
