// jobs.*: queue depths, what recovery did at start, failed assets with their reasons, retrying them and
// remaking missing files.
import { AssetService, UserService, isAdministrator, ownerScope } from '@nook/core';
import { z } from 'zod';
import { adminProcedure, protectedProcedure, router } from '../trpc';
import { ids } from './filters';

/** Members act on their own files; an administrator may act on everybody's. */
const scope = z.object({ everyone: z.boolean().default(false) });

export const jobsRouter = router({
  /**
   * The queues hold every account's work, and their depths tell when others add files: they are the
   * administrator's to see. Everyone sees how many of their own files wait or failed.
   */
  summary: protectedProcedure.query(async ({ ctx }) => {
    const admin = isAdministrator(ctx.user);
    return {
      queues: admin ? await ctx.queue.stats() : null,
      mine: await new UserService(ctx.em).processingCounts(ctx.user.id),
      // What the latest starts recovered after a crash: the administrator's, like the queues.
      recoveries: admin
        ? (await ctx.queue.recoveries(3)).map((entry) => ({
            process: entry.process,
            host: entry.host,
            startedAt: entry.startedAt.toISOString(),
            counts: entry.counts,
          }))
        : null,
    };
  }),

  failed: protectedProcedure
    .input(scope.extend({ limit: z.number().int().min(1).max(500).default(100) }))
    .query(async ({ ctx, input }) => {
      const owner = ownerScope(ctx.user, input.everyone);
      const failed = await new AssetService(ctx.em, ctx.dataDir, ctx.queue).listFailed(owner, input.limit);
      return failed.map((asset) => ({
        id: asset.id,
        name: asset.name,
        kind: asset.kind,
        mime: asset.mime,
        error: asset.error,
        updatedAt: asset.updatedAt.toISOString(),
      }));
    }),

  /** Retries every failed asset in scope, or only those named in `ids`. */
  retryFailed: protectedProcedure
    .input(scope.extend({ ids: ids.optional() }))
    .mutation(async ({ ctx, input }) => {
      const owner = ownerScope(ctx.user, input.everyone);
      return { queued: await new AssetService(ctx.em, ctx.dataDir, ctx.queue).retryFailed(owner, input.ids) };
    }),

  makeMissing: adminProcedure.mutation(async ({ ctx }) => ({
    queued: await new AssetService(ctx.em, ctx.dataDir, ctx.queue).makeMissing(null),
  })),
});
