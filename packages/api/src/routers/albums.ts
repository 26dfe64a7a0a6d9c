// albums.*: named sets of one's own assets (their contents page through assets.list with filters.albumId).
import { AlbumService, nameInput, type AlbumSummary } from '@nook/core';
import { z } from 'zod';
import { protectedProcedure, router } from '../trpc';
import { toAssetDto } from './assets';
import { ids } from './filters';

function toAlbumDto({ album, count, cover }: AlbumSummary) {
  return {
    id: album.id,
    name: album.name,
    count,
    cover: cover ? toAssetDto(cover) : null,
    createdAt: album.createdAt.toISOString(),
    updatedAt: album.updatedAt.toISOString(),
  };
}

const name = nameInput(200);

export const albumsRouter = router({
  list: protectedProcedure.query(async ({ ctx }) =>
    (await new AlbumService(ctx.em).list(ctx.user.id)).map(toAlbumDto),
  ),

  get: protectedProcedure.input(z.object({ id: z.uuid() })).query(async ({ ctx, input }) => {
    const albums = new AlbumService(ctx.em);
    return toAlbumDto(await albums.summarise(ctx.user.id, await albums.get(ctx.user.id, input.id)));
  }),

  create: protectedProcedure
    .input(z.object({ name, assetIds: z.array(z.uuid()).max(1000).default([]) }))
    .mutation(async ({ ctx, input }) => {
      const albums = new AlbumService(ctx.em);
      return toAlbumDto(
        await albums.summarise(ctx.user.id, await albums.create(ctx.user, input.name, input.assetIds)),
      );
    }),

  rename: protectedProcedure.input(z.object({ id: z.uuid(), name })).mutation(async ({ ctx, input }) => {
    const albums = new AlbumService(ctx.em);
    return toAlbumDto(
      await albums.summarise(ctx.user.id, await albums.rename(ctx.user.id, input.id, input.name)),
    );
  }),

  delete: protectedProcedure.input(z.object({ id: z.uuid() })).mutation(async ({ ctx, input }) => {
    await new AlbumService(ctx.em).delete(ctx.user.id, input.id);
    return { ok: true };
  }),

  addAssets: protectedProcedure
    .input(z.object({ id: z.uuid(), assetIds: ids }))
    .mutation(async ({ ctx, input }) => ({
      added: await new AlbumService(ctx.em).addAssets(ctx.user.id, input.id, input.assetIds),
    })),

  removeAssets: protectedProcedure
    .input(z.object({ id: z.uuid(), assetIds: ids }))
    .mutation(async ({ ctx, input }) => ({
      removed: await new AlbumService(ctx.em).removeAssets(ctx.user.id, input.id, input.assetIds),
    })),

  setCover: protectedProcedure
    .input(z.object({ id: z.uuid(), assetId: z.uuid().nullable() }))
    .mutation(async ({ ctx, input }) => {
      const albums = new AlbumService(ctx.em);
      return toAlbumDto(
        await albums.summarise(ctx.user.id, await albums.setCover(ctx.user.id, input.id, input.assetId)),
      );
    }),
});
