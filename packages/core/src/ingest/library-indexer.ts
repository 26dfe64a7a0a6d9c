// Keeps a folder library's rows in step with its files: new, changed, moved, missing and returning ones.
import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ref, type EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import { Library, type ScanProgress, type ScanStats } from '../libraries/library.entity';
import { cleanName } from '../names';
import { libraryRootRefusal } from '../libraries/library-roots';
import type { DataDir } from '../storage/data-dir';
import { User } from '../users/user.entity';
import type { JobQueue } from '../queue/job-queue';
import { createPathFilter, type PathFilter } from './exclusions';
import { hashFile, type FileDigest } from './hash';
import { mediaTypeOf } from './media-type';
import { walkLibrary, type WalkedFile } from './walk';

/** Files hashed at once: enough to overlap a NAS's latency without thrashing a USB disk. */
const HASH_CONCURRENCY = 4;
/** Rows written per transaction during a scan. */
const WRITE_BATCH = 500;

/** What the database holds about one file of the library. */
interface KnownFile {
  id: string;
  path: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  offline: boolean;
}

interface Hashed {
  file: WalkedFile;
  existing: KnownFile | null;
  digest: FileDigest;
}

export interface ReconcileOptions {
  /**
   * Leaves new or changed files modified less than this long ago for the next pass, so a poll never
   * hashes a file still being copied.
   */
  settleMs?: number;
}

export type RootState = { available: true } | { available: false; reason: string };

export type FileOutcome =
  'added' | 'changed' | 'touched' | 'moved' | 'restored' | 'unchanged' | 'unstable' | 'skipped' | 'gone';

/** What the metadata pipeline learned of a file, copied to another copy of the same content. */
const derivedFields = [
  'width',
  'height',
  'duration',
  'takenAt',
  'takenAtSource',
  'timeZoneOffset',
  'make',
  'model',
  'lens',
  'iso',
  'exposureTime',
  'fNumber',
  'focalLength',
  'latitude',
  'longitude',
  'videoCodec',
  'fps',
  'thumbhash',
] as const satisfies readonly (keyof Asset)[];

const emptyStats = (): ScanStats => ({
  seen: 0,
  directories: 0,
  added: 0,
  changed: 0,
  moved: 0,
  missing: 0,
  restored: 0,
  unreadable: 0,
  hashed: 0,
  durationMs: 0,
});

const toMs = (value: unknown): number =>
  value instanceof Date
    ? value.getTime()
    : typeof value === 'number'
      ? value
      : new Date(String(value)).getTime();

/** Whole milliseconds, as the database keeps them; filesystems report fractions. */
const mtimeOf = (file: WalkedFile) => new Date(Math.floor(file.mtimeMs));

export class LibraryIndexer {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly em: EntityManager,
    private readonly queue: Pick<JobQueue, 'enqueue'>,
    /** Nook's own data dir, never indexed, and the roots a library may lie in (NOOK_LIBRARY_ROOTS). */
    private readonly dataDir: DataDir,
  ) {}

  /** Runs `work` after every earlier operation on the library, so a scan and watcher events never race on a row. */
  exclusive<T>(libraryId: string, work: () => Promise<T>): Promise<T> {
    const run = (this.locks.get(libraryId) ?? Promise.resolve()).then(work);
    const tail = run.catch(() => undefined);
    this.locks.set(libraryId, tail);
    void tail.then(() => {
      if (this.locks.get(libraryId) === tail) this.locks.delete(libraryId);
    });
    return run;
  }

  filterFor(library: Library): PathFilter {
    return createPathFilter(library.rootPath, {
      exclude: library.exclude,
      includeExtensions: library.includeExtensions,
      dataDir: this.dataDir.root,
    });
  }

  /**
   * A root that cannot be listed is unavailable; so is an empty one whose library has files online,
   * because an unmounted share or unplugged disk leaves an empty mount point, not a mass deletion.
   */
  async checkRoot(library: Library): Promise<RootState> {
    try {
      const entries = await readdir(library.rootPath);
      if (entries.length === 0) {
        const online = await this.em.fork().count(Asset, { library: library.id, offlineAt: null });
        if (online > 0)
          return {
            available: false,
            reason: 'the folder is empty, as an unmounted share or unplugged disk is',
          };
      }
      return { available: true };
    } catch (error) {
      return { available: false, reason: (error as Error).message };
    }
  }

  /**
   * Why the library may not be read at all (its root resolves into the data dir, /proc, or outside
   * the allowed roots: made before roots were checked, or its root since taken off the list), or
   * null. A root that cannot be resolved is left to the offline handling.
   */
  async refusal(library: Library): Promise<string | null> {
    const root = await realpath(library.rootPath).catch(() => null);
    return root === null ? null : ((await libraryRootRefusal(this.dataDir, root))?.reason ?? null);
  }

  /** Keeps the reason on the library, for its status page; nothing of it is read. */
  async markRefused(libraryId: string, reason: string): Promise<void> {
    await this.em
      .fork()
      .nativeUpdate(
        Library,
        { id: libraryId },
        { lastScanFinishedAt: new Date(), scanProgress: null, lastScanError: `not scanned: ${reason}` },
      );
  }

  /** Records the root as unreachable (files untouched); returns true when it was reachable before. */
  async markRootOffline(libraryId: string, reason: string): Promise<boolean> {
    const em = this.em.fork();
    const changed = await em.nativeUpdate(
      Library,
      { id: libraryId, offlineAt: null },
      { offlineAt: new Date(), lastScanError: `root unavailable: ${reason}` },
    );
    return changed > 0;
  }

  async recordWatching(
    libraryId: string,
    watching: Pick<Library, 'watchingWith' | 'filesystem'>,
  ): Promise<void> {
    await this.em.fork().nativeUpdate(Library, { id: libraryId }, watching);
  }

  /**
   * Walks the whole library and brings the database in line: only files whose size or mtime differ
   * from the database are hashed. Returns null when the library is gone, disabled or unreachable.
   */
  reconcile(libraryId: string, options: ReconcileOptions = {}): Promise<ScanStats | null> {
    return this.exclusive(libraryId, () => this.reconcileNow(libraryId, options));
  }

  private async reconcileNow(libraryId: string, options: ReconcileOptions): Promise<ScanStats | null> {
    const em = this.em.fork();
    const library = await em.findOne(Library, { id: libraryId, type: 'folder' });
    if (!library || !library.enabled) return null;
    const refusal = await this.refusal(library);
    if (refusal) {
      await this.markRefused(libraryId, refusal);
      return null;
    }
    const root = await this.checkRoot(library);
    if (!root.available) {
      await this.markRootOffline(libraryId, root.reason);
      return null;
    }
    const started = Date.now();
    const progress = (scanProgress: ScanProgress) =>
      em.nativeUpdate(Library, { id: libraryId }, { scanProgress });
    await em.nativeUpdate(
      Library,
      { id: libraryId },
      {
        offlineAt: null,
        lastScanStartedAt: new Date(),
        scanProgress: { phase: 'walking', seen: 0, toHash: 0, hashed: 0 },
      },
    );
    const stats = emptyStats();
    try {
      const walked = await walkLibrary(library.rootPath, this.filterFor(library));
      stats.seen = walked.files.length;
      stats.directories = walked.directories;
      const known = await this.knownFiles(em, libraryId);
      const toHash: { file: WalkedFile; existing: KnownFile | null }[] = [];
      const restore: string[] = [];
      for (const file of walked.files) {
        const existing = known.get(file.path) ?? null;
        known.delete(file.path);
        if (existing && existing.size === file.size && existing.mtimeMs === mtimeOf(file).getTime()) {
          if (existing.offline) restore.push(existing.id);
          continue;
        }
        if (options.settleMs && started - file.mtimeMs < options.settleMs) continue;
        toHash.push({ file, existing });
      }
      // What is left was not found: candidates for a move, otherwise missing.
      const unseenByHash = new Map<string, KnownFile[]>();
      for (const file of known.values()) {
        unseenByHash.set(file.sha256, [...(unseenByHash.get(file.sha256) ?? []), file]);
      }
      const moveSource = (sha256: string) => {
        const candidates = unseenByHash.get(sha256);
        const source = candidates?.shift() ?? null;
        if (source) known.delete(source.path);
        return Promise.resolve(source);
      };

      for (let i = 0; i < restore.length; i += WRITE_BATCH) {
        stats.restored += await em.nativeUpdate(
          Asset,
          { id: { $in: restore.slice(i, i + WRITE_BATCH) } },
          { offlineAt: null },
        );
      }
      const hashing = (hashed: number) =>
        progress({ phase: 'hashing', seen: walked.files.length, toHash: toHash.length, hashed });
      await hashing(0);
      for (let i = 0; i < toHash.length; i += WRITE_BATCH) {
        const hashed = await this.hashAll(library.rootPath, toHash.slice(i, i + WRITE_BATCH), stats);
        await this.apply(library, hashed, moveSource, stats);
        await hashing(Math.min(i + WRITE_BATCH, toHash.length));
      }
      const missing = [...known.values()].filter((file) => !file.offline).map((file) => file.id);
      for (let i = 0; i < missing.length; i += WRITE_BATCH) {
        stats.missing += await em.nativeUpdate(
          Asset,
          { id: { $in: missing.slice(i, i + WRITE_BATCH) } },
          { offlineAt: new Date() },
        );
      }
      stats.unreadable += walked.errors.length;
      stats.durationMs = Date.now() - started;
      await em.nativeUpdate(
        Library,
        { id: libraryId },
        {
          lastScanFinishedAt: new Date(),
          scanProgress: null,
          lastScanStats: stats,
          lastScanError: stats.unreadable
            ? `${stats.unreadable} files or folders could not be read${walked.errors[0] ? ` (first: ${walked.errors[0].path}: ${walked.errors[0].reason})` : ''}`
            : null,
        },
      );
      return stats;
    } catch (error) {
      await em.nativeUpdate(
        Library,
        { id: libraryId },
        { lastScanFinishedAt: new Date(), scanProgress: null, lastScanError: (error as Error).message },
      );
      throw error;
    }
  }

  private async knownFiles(em: EntityManager, libraryId: string): Promise<Map<string, KnownFile>> {
    const rows = await em
      .createQueryBuilder(Asset)
      .select(['id', 'path', 'size', 'mtime', 'sha256', 'offlineAt'])
      .where({ library: libraryId })
      .execute<
        { id: string; path: string; size: number; mtime: unknown; sha256: string; offlineAt: unknown }[]
      >('all');
    return new Map(
      rows.map((row) => [
        row.path,
        {
          id: row.id,
          path: row.path,
          size: Number(row.size),
          mtimeMs: toMs(row.mtime),
          sha256: row.sha256,
          offline: row.offlineAt !== null && row.offlineAt !== undefined,
        },
      ]),
    );
  }

  /**
   * Hashes with bounded parallelism. A file whose size differs from what the walk saw is still being
   * written: it is left for the watcher or the next scan. One that cannot be read is counted and skipped.
   */
  private async hashAll(
    root: string,
    items: { file: WalkedFile; existing: KnownFile | null }[],
    stats: ScanStats,
  ): Promise<Hashed[]> {
    const hashed: Hashed[] = [];
    let next = 0;
    const lane = async () => {
      while (next < items.length) {
        const item = items[next++]!;
        try {
          const digest = await hashFile(path.join(root, item.file.path));
          stats.hashed += 1;
          if (digest.size === item.file.size) hashed.push({ ...item, digest });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') stats.unreadable += 1;
        }
      }
    };
    await Promise.all(Array.from({ length: HASH_CONCURRENCY }, lane));
    return hashed;
  }

  /**
   * Writes hashed files in one transaction: the same content as before is only a touch; new
   * content elsewhere in the library under a missing file's hash is that file moved (metadata and
   * thumbnails kept); content Nook already processed elsewhere takes that copy's metadata, since
   * derived files are keyed by hash; anything else is queued for the metadata job.
   */
  private async apply(
    library: Library,
    items: Hashed[],
    moveSource: (sha256: string) => Promise<KnownFile | null>,
    stats: ScanStats,
  ): Promise<FileOutcome[]> {
    const toQueue: string[] = [];
    // Read apart from the transaction: entities it manages are flushed at its end, and a twin may be
    // one of the rows updated below.
    const twins = await this.readyTwins(
      this.em.fork(),
      items.map((item) => item.digest.sha256),
    );
    // Also resolved before the transaction: a query inside it on another EntityManager would wait
    // forever for the single SQLite connection the transaction holds.
    const moveSources: (KnownFile | null)[] = [];
    for (const item of items) moveSources.push(item.existing ? null : await moveSource(item.digest.sha256));
    const outcomes = await this.em.fork().transactional(async (em) => {
      const results: FileOutcome[] = [];
      for (const [index, { file, existing, digest }] of items.entries()) {
        const mtime = mtimeOf(file);
        // The file stays as it is on disk (path); the name it is shown and downloaded by loses any
        // invisible or direction-changing characters.
        const name = cleanName(path.posix.basename(file.path)) || 'unnamed file';
        if (existing && existing.sha256 === digest.sha256) {
          await em.nativeUpdate(Asset, { id: existing.id }, { size: file.size, mtime, offlineAt: null });
          results.push('touched');
          continue;
        }
        if (!existing) {
          const source = moveSources[index];
          if (source) {
            await em.nativeUpdate(
              Asset,
              { id: source.id },
              { path: file.path, name, size: file.size, mtime, offlineAt: null },
            );
            stats.moved += 1;
            results.push('moved');
            continue;
          }
        }
        const type = await mediaTypeOf(digest.head, name);
        const twin = twins.get(digest.sha256);
        const processing: Partial<Asset> = twin
          ? { ...pick(twin), status: 'ready', error: null }
          : { status: type.kind === 'other' ? 'ready' : 'pending', error: null, takenAt: mtime };
        const fields = { size: file.size, mtime, sha256: digest.sha256, mime: type.mime, kind: type.kind };
        let id: string;
        if (existing) {
          id = existing.id;
          await em.nativeUpdate(Asset, { id }, { ...fields, ...processing, offlineAt: null });
          stats.changed += 1;
          results.push('changed');
        } else {
          const asset = em.create(Asset, {
            library: ref(em.getReference(Library, library.id)),
            owner: ref(em.getReference(User, library.owner.id)),
            path: file.path,
            name,
            takenAt: mtime,
            ...fields,
            ...processing,
          });
          id = asset.id;
          stats.added += 1;
          results.push('added');
        }
        if (!twin && type.kind !== 'other') toQueue.push(id);
      }
      return results;
    });
    // Queued after the commit, so a worker never looks for a row that is not there yet.
    for (let i = 0; i < toQueue.length; i += 16) {
      await Promise.all(
        toQueue.slice(i, i + 16).map((id) => this.queue.enqueue('metadata', { assetId: id }, id)),
      );
    }
    return outcomes;
  }

  private async readyTwins(em: EntityManager, hashes: string[]): Promise<Map<string, Asset>> {
    const twins = new Map<string, Asset>();
    const unique = [...new Set(hashes)];
    for (let i = 0; i < unique.length; i += WRITE_BATCH) {
      const found = await em.find(Asset, {
        sha256: { $in: unique.slice(i, i + WRITE_BATCH) },
        status: 'ready',
      });
      for (const asset of found) twins.set(asset.sha256, asset);
    }
    return twins;
  }

  /**
   * Indexes one file the watcher reported as written and settled. A file still changing while it is
   * hashed is reported `unstable` for the caller to try again later.
   */
  indexFile(libraryId: string, relativePath: string): Promise<FileOutcome> {
    return this.exclusive(libraryId, async () => {
      const em = this.em.fork();
      const library = await em.findOne(Library, { id: libraryId, type: 'folder' });
      if (!library || !library.enabled || this.filterFor(library).skipsFile(relativePath)) return 'skipped';
      const absolute = path.join(library.rootPath, relativePath);
      const before = await lstat(absolute).catch(() => null);
      if (!before) return 'gone';
      if (!before.isFile()) return 'skipped';
      const file: WalkedFile = { path: relativePath, size: before.size, mtimeMs: before.mtimeMs };
      const row = await em.findOne(Asset, { library: libraryId, path: relativePath });
      const existing = row && this.toKnown(row);
      if (existing && existing.size === file.size && existing.mtimeMs === mtimeOf(file).getTime()) {
        if (!existing.offline) return 'unchanged';
        await em.nativeUpdate(Asset, { id: existing.id }, { offlineAt: null });
        return 'restored';
      }
      const digest = await hashFile(absolute);
      const after = await lstat(absolute).catch(() => null);
      if (
        !after ||
        digest.size !== before.size ||
        after.size !== before.size ||
        after.mtimeMs !== before.mtimeMs
      )
        return 'unstable';
      const [outcome] = await this.apply(
        library,
        [{ file, existing, digest }],
        (sha256) => this.missingTwin(em, library, sha256, relativePath),
        emptyStats(),
      );
      return outcome ?? 'skipped';
    });
  }

  /** A row of this library with the same content whose file is no longer where the row says: moved. */
  private async missingTwin(
    em: EntityManager,
    library: Library,
    sha256: string,
    newPath: string,
  ): Promise<KnownFile | null> {
    const candidates = await em.find(Asset, { library: library.id, sha256, path: { $ne: newPath } });
    for (const candidate of candidates) {
      if (candidate.offlineAt) return this.toKnown(candidate);
      const still = await lstat(path.join(library.rootPath, candidate.path)).catch(() => null);
      if (!still) return this.toKnown(candidate);
    }
    return null;
  }

  private toKnown(asset: Asset): KnownFile {
    return {
      id: asset.id,
      path: asset.path,
      size: asset.size,
      mtimeMs: asset.mtime.getTime(),
      sha256: asset.sha256,
      offline: asset.offlineAt !== null,
    };
  }

  /**
   * Marks files (and everything under folders) that the watcher saw disappear as offline, once each
   * is confirmed gone. If the root itself is unreachable, nothing is marked: the library goes offline.
   */
  removePaths(libraryId: string, files: string[], folders: string[]): Promise<number | 'root-offline'> {
    return this.exclusive(libraryId, async () => {
      const em = this.em.fork();
      const library = await em.findOne(Library, { id: libraryId, type: 'folder' });
      if (!library) return 0;
      const root = await this.checkRoot(library);
      if (!root.available) {
        await this.markRootOffline(libraryId, root.reason);
        return 'root-offline';
      }
      const candidates = new Set(files);
      if (folders.length) {
        const online = await em.find(Asset, { library: libraryId, offlineAt: null }, { fields: ['path'] });
        for (const asset of online) {
          if (folders.some((folder) => asset.path.startsWith(`${folder}/`))) candidates.add(asset.path);
        }
      }
      const gone: string[] = [];
      for (const candidate of candidates) {
        // An editor's save-by-rename removes and re-creates a file: only a file still absent is missing.
        if (!(await lstat(path.join(library.rootPath, candidate)).catch(() => null))) gone.push(candidate);
      }
      let marked = 0;
      for (let i = 0; i < gone.length; i += WRITE_BATCH) {
        marked += await em.nativeUpdate(
          Asset,
          { library: libraryId, path: { $in: gone.slice(i, i + WRITE_BATCH) }, offlineAt: null },
          { offlineAt: new Date() },
        );
      }
      return marked;
    });
  }
}

function pick(twin: Asset): Partial<Asset> {
  return Object.fromEntries(derivedFields.map((field) => [field, twin[field]])) as Partial<Asset>;
}
