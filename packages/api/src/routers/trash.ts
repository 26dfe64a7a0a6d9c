// trash.*: what was deleted, restorable until emptied (by hand or after the retention period).
import { TrashService } from '@nook/core';
import { z } from 'zod';
import { protectedProcedure, router } from '../trpc';
import { toAssetDto } from './assets';

const DAY_MS = 24 * 60 * 60 * 1000;

export const trashRouter = router({
  list: protectedProcedure
    .input(
      z.object({
        limit: z.number().int().min(1).max(500).default(100),
        cursor: z.string().max(200).nullish(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const page = await new TrashService(ctx.em, ctx.dataDir).list(ctx.user.id, input.limit, input.cursor);
      const retention = ctx.trashDays * DAY_MS;
      return {
        retentionDays: ctx.trashDays,
        items: page.items.map((asset) => ({
          ...toAssetDto(asset),
          deletedAt: asset.deletedAt!.toISOString(),
          // The daily purge takes it on its first run after this moment.
          purgeAfter: new Date(asset.deletedAt!.getTime() + retention).toISOString(),
        })),
        nextCursor: page.nextCursor,
      };
    }),

  empty: protectedProcedure.mutation(async ({ ctx }) => ({
    purged: await new TrashService(ctx.em, ctx.dataDir).empty(ctx.user.id),
  })),
});
