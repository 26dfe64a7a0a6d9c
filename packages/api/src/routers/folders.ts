// folders.*: a library as the folder tree it is on disk.
import { FolderService } from '@nook/core';
import { z } from 'zod';
import { protectedProcedure, router } from '../trpc';
import { toAssetDto } from './assets';

export const foldersRouter = router({
  list: protectedProcedure
    .input(z.object({ libraryId: z.uuid(), path: z.string().max(4096).default('') }))
    .query(async ({ ctx, input }) => {
      const listing = await new FolderService(ctx.em).list(ctx.user.id, input.libraryId, input.path);
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
      };
    }),
});
