// stats.*: storage, growth, disks and queues for the stats page.
import { StatsService } from '@nook/core';
import { protectedProcedure, router } from '../trpc';

export const statsRouter = router({
  summary: protectedProcedure.query(async ({ ctx }) =>
    new StatsService(ctx.em, ctx.dataDir, ctx.queue).summary(ctx.user, ctx.statsCache),
  ),
});
