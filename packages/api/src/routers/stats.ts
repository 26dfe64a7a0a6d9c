// stats.*: storage, growth, disks and queues for the stats page.
import { StatsService } from '@nook/core';
import { protectedProcedure, router } from '../trpc';

/** Stats may be served from memory, but never older than this. */
const STATS_MAX_AGE_MS = 5000;

export const statsRouter = router({
  summary: protectedProcedure.query(async ({ ctx }) => {
    const key = `${ctx.user.id}:${ctx.user.role}`;
    const cached = ctx.statsCache.get(key);
    if (cached && Date.now() - cached.at < STATS_MAX_AGE_MS)
      return cached.value as Awaited<ReturnType<StatsService['summary']>>;
    const value = await new StatsService(ctx.em, ctx.dataDir, ctx.queue).summary(ctx.user);
    ctx.statsCache.set(key, { at: Date.now(), value });
    return value;
  }),
});
