// folders.*: a library as the folder tree it is on disk.
import { FolderService } from '@nook/core';
import { z } from 'zod';
import { protectedProcedure, router } from '../trpc';
import { toAssetDto } from './assets';

export const foldersRouter = router({
  list: protectedProcedure
    .input(
      z.object({
        libraryId: z.uuid(),
        path: z.string().max(4096).default(''),
        limit: z.number().int().min(1).max(500).default(500),
        /** From a page's nextCursor: the next files (subfolders come with the first page only). */
        cursor: z.string().max(2000).nullish(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const listing = await new FolderService(ctx.em).list(ctx.user.id, input.libraryId, input.path, {
        limit: input.limit,
        cursor: input.cursor,
      });
      return {
        library: { id: listing.library.id, name: listing.library.name },
        path: listing.path,
        folders: listing.folders.map((folder) => ({
          name: folder.name,
          path: folder.path,
          count: folder.count,
          cover: folder.cover ? toAssetDto(folder.cover) : null,
        })),
        files: listing.files.map(toAssetDto),
        fileCount: listing.fileCount,
        nextCursor: listing.nextCursor,
      };
    }),
});
