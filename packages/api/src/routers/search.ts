// search.*: full-text search over names, paths, descriptions and cameras, with the timeline's filters.
import { z } from 'zod';
import { protectedProcedure, router } from '../trpc';
import { toAssetSummary } from './assets';
import { timelineFilters, toFilters } from './filters';

export const searchRouter = router({
  query: protectedProcedure
    .input(
      z.object({
        text: z.string().max(200),
        filters: timelineFilters,
        limit: z.number().int().min(1).max(200).default(60),
        cursor: z.string().max(200).nullish(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const page = await ctx.reads.search(
        ctx.user.id,
        input.text,
        toFilters(input.filters),
        input.limit,
        input.cursor,
      );
      return { items: page.items.map(toAssetSummary), nextCursor: page.nextCursor };
    }),
});
