// shares.*: public links to one's own assets and albums.
import { ShareService, type Share } from '@nook/core';
import { z } from 'zod';
import { protectedProcedure, router, sessionProcedure } from '../trpc';

function toShareDto(share: Share) {
  return {
    id: share.id,
    url: `/s/${share.token}`,
    assetId: share.asset?.id ?? null,
    assetName: share.asset?.isInitialized() ? share.asset.getEntity().name : null,
    albumId: share.album?.id ?? null,
    albumName: share.album?.isInitialized() ? share.album.getEntity().name : null,
    allowDownload: share.allowDownload,
    hasPassword: share.passwordHash !== null,
    expiresAt: share.expiresAt?.toISOString() ?? null,
    viewCount: share.viewCount,
    createdAt: share.createdAt.toISOString(),
  };
}

export const sharesRouter = router({
  list: protectedProcedure.query(async ({ ctx }) =>
    (await new ShareService(ctx.em).list(ctx.user)).map(toShareDto),
  ),

  create: sessionProcedure
    .input(
      z
        .object({
          assetId: z.uuid().optional(),
          albumId: z.uuid().optional(),
          expiresAt: z.iso.datetime().nullish(),
          password: z.string().min(1).max(256).nullish(),
          allowDownload: z.boolean().default(false),
        })
        .refine((input) => !input.assetId !== !input.albumId, {
          message: 'give exactly one of assetId and albumId',
        }),
    )
    .mutation(async ({ ctx, input }) => {
      const share = await new ShareService(ctx.em).create(
        ctx.user,
        { ...input, expiresAt: input.expiresAt ? new Date(input.expiresAt) : null },
        ctx.client,
      );
      return toShareDto(share);
    }),

  revoke: sessionProcedure.input(z.object({ id: z.uuid() })).mutation(async ({ ctx, input }) => {
    await new ShareService(ctx.em).revoke(ctx.user, input.id, ctx.client);
    return { ok: true };
  }),
});
