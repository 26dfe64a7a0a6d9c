// libraries.*: watched folders and NAS shares — settings, rescans and how indexing stands.
import {
  explainWatchMode,
  isAdministrator,
  LibraryService,
  libraryRootsHint,
  watchModes,
  type Library,
  type LibraryCounts,
  type User,
  nameInput,
} from '@nook/core';
import { z } from 'zod';
import type { Context } from '../context';
import { adminPathProcedure, adminProcedure, protectedProcedure, router } from '../trpc';

/**
 * Server paths are the administrator's: members see their libraries by name only. An uploads
 * library's root is an internal detail of the data dir, for everyone.
 */
function toLibraryDto(library: Library, viewer: User) {
  return {
    id: library.id,
    name: library.name,
    type: library.type,
    rootPath: library.type === 'folder' && isAdministrator(viewer) ? library.rootPath : null,
    ownerId: library.owner.id,
    enabled: library.enabled,
    watchMode: library.watchMode,
    pollIntervalSeconds: library.pollIntervalSeconds,
    scanIntervalHours: library.scanIntervalHours,
    exclude: library.exclude,
    includeExtensions: library.includeExtensions,
    createdAt: library.createdAt.toISOString(),
    updatedAt: library.updatedAt.toISOString(),
  };
}

/** A scan error quotes the paths it failed on; a member reads them relative to the library. */
function scanErrorFor(library: Library, viewer: User): string | null {
  if (library.lastScanError === null || isAdministrator(viewer)) return library.lastScanError;
  return library.lastScanError.replaceAll(library.rootPath, 'the library folder');
}

function toStatusDto(library: Library, counts: LibraryCounts, viewer: User) {
  return {
    id: library.id,
    name: library.name,
    online: library.offlineAt === null,
    offlineSince: library.offlineAt?.toISOString() ?? null,
    filesystem: library.filesystem,
    watchMode: library.watchMode,
    watchingWith: library.watchingWith,
    watchReason: explainWatchMode(library.watchMode, library.watchingWith, library.filesystem),
    /** A scan started and not yet finished, and how far it is. */
    scanning:
      library.lastScanStartedAt !== null &&
      (library.lastScanFinishedAt === null || library.lastScanFinishedAt < library.lastScanStartedAt),
    scanProgress: library.scanProgress,
    lastScanStartedAt: library.lastScanStartedAt?.toISOString() ?? null,
    lastScanFinishedAt: library.lastScanFinishedAt?.toISOString() ?? null,
    lastScanError: scanErrorFor(library, viewer),
    lastScan: library.lastScanStats,
    assets: counts,
  };
}

const settings = z.object({
  name: nameInput(128),
  rootPath: z.string().min(1).max(4096),
  watchMode: z.enum(watchModes),
  pollIntervalSeconds: z
    .number()
    .int()
    .min(1)
    .max(24 * 60 * 60),
  scanIntervalHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 30),
  exclude: z.array(z.string().min(1).max(512)).max(200),
  includeExtensions: z
    .array(z.string().regex(/^\.?[a-z0-9]{1,16}$/i))
    .max(200)
    .nullable(),
  enabled: z.boolean(),
});

const byId = z.object({ id: z.uuid() });
const service = (ctx: Context) => new LibraryService(ctx.em, ctx.queue, ctx.dataDir);

export const librariesRouter = router({
  list: protectedProcedure
    .input(z.object({ everyone: z.boolean().default(false) }).default({ everyone: false }))
    .query(async ({ ctx, input }) =>
      (await service(ctx).list(ctx.user, input.everyone)).map((library) => toLibraryDto(library, ctx.user)),
    ),

  get: protectedProcedure
    .input(byId)
    .query(async ({ ctx, input }) => toLibraryDto(await service(ctx).get(ctx.user, input.id), ctx.user)),

  /** The folders a library may be made of (NOOK_LIBRARY_ROOTS), for the add-folder form. */
  roots: adminPathProcedure.query(({ ctx }) => ({
    roots: [...ctx.dataDir.libraryRoots],
    hint: libraryRootsHint,
  })),

  create: adminProcedure
    .input(
      settings.partial().required({ name: true, rootPath: true }).extend({ ownerId: z.uuid().optional() }),
    )
    .mutation(async ({ ctx, input }) => toLibraryDto(await service(ctx).create(ctx.user, input), ctx.user)),

  update: adminProcedure
    .input(settings.partial().extend({ id: z.uuid() }))
    .mutation(async ({ ctx, input: { id, ...changes } }) =>
      toLibraryDto(await service(ctx).update(ctx.user, id, changes), ctx.user),
    ),

  delete: adminProcedure.input(byId).mutation(async ({ ctx, input }) => {
    await service(ctx).delete(ctx.user, input.id);
    return { ok: true };
  }),

  /** Checks a folder before it is added: allowed, existing and readable; says how it would be watched. */
  checkPath: adminPathProcedure
    .input(z.object({ rootPath: settings.shape.rootPath }))
    .query(async ({ ctx, input }) => service(ctx).inspectRoot(input.rootPath)),

  rescan: adminProcedure.input(byId).mutation(async ({ ctx, input }) => {
    await service(ctx).rescan(ctx.user, input.id);
    return { queued: true };
  }),

  status: protectedProcedure.input(byId).query(async ({ ctx, input }) => {
    const libraries = service(ctx);
    const library = await libraries.get(ctx.user, input.id);
    return toStatusDto(library, await libraries.counts(library.id), ctx.user);
  }),
});
