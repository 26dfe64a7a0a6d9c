// Libraries: creating and editing watched folders, who may see them, and how their indexing stands.
import { cleanName } from '../names';
import { constants } from 'node:fs';
import { access, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ref, type EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import { isAdministrator, mayReach, ownerScope } from '../auth/access';
import { NookError } from '../errors';
import { defaultExclusions } from '../ingest/exclusions';
import { detectFilesystem, isNetworkFilesystem } from '../ingest/mountinfo';
import type { JobQueue } from '../queue/job-queue';
import type { DataDir } from '../storage/data-dir';
import { User } from '../users/user.entity';
import { Library, type WatchingWith, type WatchMode } from './library.entity';
import { libraryRootRefusal, libraryRootsHint } from './library-roots';

export interface LibrarySettings {
  name: string;
  rootPath: string;
  watchMode: WatchMode;
  pollIntervalSeconds: number;
  scanIntervalHours: number;
  exclude: string[];
  includeExtensions: string[] | null;
  enabled: boolean;
}

export type NewLibrary = Pick<LibrarySettings, 'name' | 'rootPath'> &
  Partial<LibrarySettings> & {
    /** Whose library it is: the administrator creating it when not given. */
    ownerId?: string;
  };

export interface LibraryCounts {
  total: number;
  offline: number;
  pending: number;
  failed: number;
}

/** What a folder would be, checked before it becomes a library: where it resolves and how it would be watched. */
export interface RootInspection {
  path: string;
  filesystem: string | null;
  watchingWith: WatchingWith;
  reason: string;
}

/**
 * Why a library is followed the way it is, in a sentence for the libraries page. `watchingWith` is
 * what ingest decided at run time (null before its first scan or when watching is off).
 */
export function explainWatchMode(
  watchMode: WatchMode,
  watchingWith: WatchingWith | null,
  filesystem: string | null,
): string {
  if (watchMode === 'off') return 'Watching is off: changes are found by the scheduled rescans only.';
  if (watchMode === 'events') return 'Set to filesystem events by hand.';
  if (watchMode === 'poll') return 'Set to polling by hand.';
  const fs = filesystem ?? 'unknown filesystem';
  if (watchingWith === null) return 'Chosen automatically when the first scan runs.';
  if (watchingWith === 'events') return `${fs} is a local disk, so changes arrive as filesystem events.`;
  if (isNetworkFilesystem(filesystem))
    return `${fs} is a network filesystem: changes made by other machines send no events, so Nook polls.`;
  return 'The folder tree needs more inotify watches than the system allows (fs.inotify.max_user_watches), so Nook polls.';
}

export class LibraryService {
  constructor(
    private readonly em: EntityManager,
    private readonly queue: Pick<JobQueue, 'enqueue'>,
    /** Nook's data dir, never a library's, and the allowed roots (NOOK_LIBRARY_ROOTS). */
    private readonly dataDir: DataDir,
  ) {}

  /** The caller's libraries; an administrator may ask for everybody's. */
  async list(user: User, everyone = false): Promise<Library[]> {
    const owner = ownerScope(user, everyone);
    return this.em.find(Library, owner === null ? {} : { owner }, { orderBy: { createdAt: 'asc' } });
  }

  /** Members reach only their own libraries; an administrator reaches every one. */
  async get(user: User, id: string): Promise<Library> {
    const library = await this.em.findOne(Library, { id });
    if (!library || !mayReach(user, { ownerId: library.owner.id, administered: true }))
      throw new NookError('NOT_FOUND', 'no such library');
    return library;
  }

  /** Which folders Nook reads is the administrator's decision; they may give the library to anyone. */
  async create(user: User, input: NewLibrary): Promise<Library> {
    requireAdmin(user);
    const owner = input.ownerId === undefined ? user : await this.em.findOne(User, { id: input.ownerId });
    if (!owner) throw new NookError('BAD_REQUEST', 'no such user to own the library');
    const rootPath = await this.checkRoot(input.rootPath);
    const library = this.em.create(Library, {
      name: cleanName(input.name),
      type: 'folder',
      rootPath,
      owner: ref(owner),
      watchMode: input.watchMode ?? 'auto',
      pollIntervalSeconds: input.pollIntervalSeconds ?? 30,
      scanIntervalHours: input.scanIntervalHours ?? 24,
      exclude: input.exclude ?? defaultExclusions,
      includeExtensions: normalizeExtensions(input.includeExtensions ?? null),
      enabled: input.enabled ?? true,
    });
    await this.em.flush();
    await this.requestScan(library);
    return library;
  }

  async update(user: User, id: string, changes: Partial<LibrarySettings>): Promise<Library> {
    const library = await this.folder(user, id);
    if (changes.rootPath !== undefined) library.rootPath = await this.checkRoot(changes.rootPath);
    if (changes.name !== undefined) library.name = cleanName(changes.name);
    if (changes.watchMode !== undefined) library.watchMode = changes.watchMode;
    if (changes.pollIntervalSeconds !== undefined) library.pollIntervalSeconds = changes.pollIntervalSeconds;
    if (changes.scanIntervalHours !== undefined) library.scanIntervalHours = changes.scanIntervalHours;
    if (changes.exclude !== undefined) library.exclude = changes.exclude;
    if (changes.includeExtensions !== undefined)
      library.includeExtensions = normalizeExtensions(changes.includeExtensions);
    if (changes.enabled !== undefined) library.enabled = changes.enabled;
    library.updatedAt = new Date();
    await this.em.flush();
    // The ingest process picks up the new settings when it runs this scan.
    await this.requestScan(library);
    return library;
  }

  /** Forgets the library and its rows; its folder on disk is never touched. */
  async delete(user: User, id: string): Promise<void> {
    const library = await this.folder(user, id);
    await this.em.nativeDelete(Asset, { library: library.id });
    await this.em.removeAndFlush(library);
    // Tells the ingest process to stop watching it.
    await this.queue.enqueue('library-scan', { libraryId: id }, id);
  }

  /** Checks a folder as `create` would, and says how `auto` would watch it; nothing is saved. */
  async inspectRoot(rootPath: string): Promise<RootInspection> {
    const resolved = await this.checkRoot(rootPath);
    const filesystem = await detectFilesystem(resolved);
    const watchingWith: WatchingWith = isNetworkFilesystem(filesystem) ? 'poll' : 'events';
    return {
      path: resolved,
      filesystem,
      watchingWith,
      reason: explainWatchMode('auto', watchingWith, filesystem),
    };
  }

  async rescan(user: User, id: string): Promise<void> {
    await this.requestScan(await this.folder(user, id));
  }

  async counts(libraryId: string): Promise<LibraryCounts> {
    const [total, offline, pending, failed] = await Promise.all([
      this.em.count(Asset, { library: libraryId }),
      this.em.count(Asset, { library: libraryId, offlineAt: { $ne: null } }),
      this.em.count(Asset, { library: libraryId, status: 'pending', offlineAt: null }),
      this.em.count(Asset, { library: libraryId, status: 'failed', offlineAt: null }),
    ]);
    return { total, offline, pending, failed };
  }

  private async requestScan(library: Library): Promise<void> {
    await this.queue.enqueue('library-scan', { libraryId: library.id }, library.id);
  }

  private async folder(user: User, id: string): Promise<Library> {
    requireAdmin(user);
    const library = await this.get(user, id);
    if (library.type !== 'folder')
      throw new NookError('BAD_REQUEST', 'the uploads library is managed by Nook and cannot be changed');
    return library;
  }

  /**
   * The root must be an absolute, existing, readable folder inside an allowed root and clear of the
   * data dir and the kernel's folders, judged by its real path (links followed, `/proc/self/root/…`
   * seen through), which is what is stored. Only administrators get here, so messages may name paths.
   */
  private async checkRoot(rootPath: string): Promise<string> {
    if (!path.isAbsolute(rootPath))
      throw new NookError('BAD_REQUEST', `the folder must be an absolute path: ${rootPath}`);
    const given = path.resolve(rootPath);
    const resolved = await realpath(given).catch(() => null);
    const info = resolved ? await stat(resolved).catch(() => null) : null;
    if (!resolved || !info) throw new NookError('BAD_REQUEST', `the folder ${given} does not exist`);
    if (!info.isDirectory()) throw new NookError('BAD_REQUEST', `${given} is not a folder`);
    const refusal = await libraryRootRefusal(this.dataDir, resolved);
    if (refusal) {
      const shown = resolved === given ? given : `${given} (${resolved})`;
      const hint = refusal.configurable ? `; to allow it, ${libraryRootsHint}` : '';
      throw new NookError('BAD_REQUEST', `${shown}: ${refusal.reason}${hint}`);
    }
    try {
      await access(resolved, constants.R_OK | constants.X_OK);
      await readdir(resolved);
    } catch {
      throw new NookError('BAD_REQUEST', `the folder ${given} cannot be read by Nook`);
    }
    return resolved;
  }
}

function requireAdmin(user: User): void {
  if (!isAdministrator(user))
    throw new NookError('FORBIDDEN', 'only administrators choose the folders Nook reads');
}

function normalizeExtensions(extensions: string[] | null): string[] | null {
  if (!extensions || extensions.length === 0) return null;
  return [...new Set(extensions.map((extension) => extension.replace(/^\./, '').toLowerCase()))];
}
