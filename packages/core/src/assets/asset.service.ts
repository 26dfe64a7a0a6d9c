// Assets: taking in uploaded files, editing them, finding files on disk.
import { access, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { UniqueConstraintViolationException, ref, type EntityManager } from '@mikro-orm/sqlite';
import { NookError } from '../errors';
import type { Library } from '../libraries/library.entity';
import type { JobQueue } from '../queue/job-queue';
import type { DataDir } from '../storage/data-dir';
import type { ReceivedFile } from '../storage/receive';
import type { User } from '../users/user.entity';
import { recordUploadSavingSql } from '../sql/totals';
import { Asset } from './asset.entity';
import { safeFileName } from './file-name';
import { detectMediaType } from './media-type';
import { ORIGINAL_MISSING, originalIntact } from './original-intact';
import { resolveOriginalPath } from './original-path';
import { placeUpload, type Commit } from './placement';
import { visibleTo } from './timeline';

/** What the metadata job learns of a file. */
export type MetadataField =
  | 'width'
  | 'height'
  | 'duration'
  | 'takenAtSource'
  | 'timeZoneOffset'
  | 'make'
  | 'model'
  | 'lens'
  | 'iso'
  | 'exposureTime'
  | 'fNumber'
  | 'focalLength'
  | 'latitude'
  | 'longitude'
  | 'videoCodec'
  | 'fps';

export type AssetMetadata = Partial<Pick<Asset, MetadataField>> & { takenAt?: Date | null };

/** Uploads land in <yyyy>/<mm> of the day they arrive. */
const monthFolder = (date: Date) => `${date.getFullYear()}/${String(date.getMonth() + 1).padStart(2, '0')}`;

export interface UploadResult {
  asset: Asset;
  duplicate: boolean;
  /**
   * The upload put back the original of an asset the user already had, whose file was gone: the
   * row was already counted as stored, so the upload adds no bytes.
   */
  restored: boolean;
}

/** Stats of originals at a time, so a batch of 1000 hashes does not queue 1000 at once. */
const CHECK_CONCURRENCY = 16;

export class AssetService {
  constructor(
    private readonly em: EntityManager,
    private readonly dataDir: DataDir,
    private readonly queue: Pick<JobQueue, 'enqueue'>,
  ) {}

  /**
   * Files an uploaded temp file into the user's uploads library. It is a duplicate only of a live
   * asset of that same library whose original is on disk, whole: a copy in a watched folder can
   * leave at any time, so it never stands in for an upload. An asset of that library whose original
   * is gone gets these bytes back (same row: its albums, favorite and description stay). Otherwise
   * the file is linked into library/<user>/<yyyy>/<mm>/ under a free name, recorded, and queued.
   * Two identical uploads at once are settled by the database: one row holds the content (a unique
   * index), and the other upload looks again and is answered as the duplicate it is.
   * Quotas are the caller's: the upload routes reserve the bytes while they arrive.
   */
  async ingestUpload(
    user: User,
    library: Library,
    received: ReceivedFile,
    clientName: string,
    /** The new row's id when one is made: a replayed tus completion finds its asset by it. */
    { assetId }: { assetId?: string } = {},
  ): Promise<UploadResult> {
    // Each lost race means another upload just stored or restored this content, so the next look
    // finds it whole; the bound only guards against a file that keeps vanishing under us.
    for (let attempt = 0; attempt < 5; attempt++) {
      const result = await this.fileUpload(user, library, received, clientName, assetId);
      if (result) return result;
    }
    throw new Error(`could not store ${received.sha256}: its stored copy kept changing`);
  }

  /** One look-and-store; null when another upload of the same content got there first. */
  private async fileUpload(
    user: User,
    library: Library,
    received: ReceivedFile,
    clientName: string,
    assetId: string | undefined,
  ): Promise<UploadResult | null> {
    const copies = await this.em.find(
      Asset,
      { owner: user, library, sha256: received.sha256, deletedAt: null },
      { populate: ['library'], orderBy: { createdAt: 'asc', id: 'asc' }, refresh: true },
    );
    for (const copy of copies) {
      if (!(await originalIntact(this.dataDir, copy))) continue;
      await rm(received.tempPath, { force: true });
      await this.em.getConnection().execute(recordUploadSavingSql, [user.id, received.size]);
      return { asset: copy, duplicate: true, restored: false };
    }

    const libraryRoot = this.dataDir.resolveLibraryRoot(library.rootPath);
    const lost = copies.find((copy) => copy.contentKey !== null) ?? copies[0];
    if (lost) {
      const restored = await this.restoreOriginal(lost, libraryRoot, received);
      return restored && { asset: restored, duplicate: false, restored: true };
    }

    const now = new Date();
    const folder = monthFolder(now);
    await mkdir(path.join(libraryRoot, folder), { recursive: true });
    const mediaType = await detectMediaType(received.tempPath, clientName);
    const asset = this.em.create(
      Asset,
      {
        ...(assetId && { id: assetId }),
        library: ref(library),
        owner: ref(user),
        path: '',
        name: '',
        size: received.size,
        mtime: now,
        sha256: received.sha256,
        contentKey: received.sha256,
        mime: mediaType.mime,
        kind: mediaType.kind,
        takenAt: now,
        status: mediaType.kind === 'other' ? 'ready' : 'pending',
      },
      { persist: false },
    );
    // Inserted outside the unit of work: a refused insert must leave nothing behind for the next
    // flush. The row is answered as inserted, without reading it back.
    const placed = await placeUpload(
      received.tempPath,
      library,
      libraryRoot,
      folder,
      safeFileName(clientName),
      async (relativePath, name) => {
        asset.path = relativePath;
        asset.name = name;
        try {
          await this.em.insert(asset);
          return 'done';
        } catch (error) {
          return refusal(error);
        }
      },
    );
    if (!placed) return null;
    if (asset.kind !== 'other') await this.queue.enqueue('metadata', { assetId: asset.id }, asset.id);
    return { asset, duplicate: false, restored: false };
  }

  /**
   * Puts the uploaded bytes back as `asset`'s original: in its old folder, under its old file name
   * unless something else now holds that name (never overwritten), then runs the pipeline again.
   * The row changes only if no other upload restored it meanwhile (its path and mtime as read);
   * null when one did.
   */
  private async restoreOriginal(
    asset: Asset,
    libraryRoot: string,
    received: ReceivedFile,
  ): Promise<Asset | null> {
    let folder = path.posix.dirname(asset.path);
    const inside = path.resolve(libraryRoot, folder).startsWith(libraryRoot + path.sep);
    if (!inside || folder === '.') folder = monthFolder(new Date());
    await mkdir(path.join(libraryRoot, folder), { recursive: true });
    const now = new Date();
    const changes = {
      size: received.size,
      mtime: now,
      status: asset.kind === 'other' ? ('ready' as const) : ('pending' as const),
      error: null,
      updatedAt: now,
    };
    const placed = await placeUpload(
      received.tempPath,
      asset.library.getEntity(),
      libraryRoot,
      folder,
      safeFileName(path.posix.basename(asset.path)),
      async (relativePath) => {
        try {
          const updated = await this.em.nativeUpdate(
            Asset,
            { id: asset.id, path: asset.path, mtime: asset.mtime },
            { ...changes, path: relativePath },
          );
          return updated === 1 ? 'done' : 'content-taken';
        } catch (error) {
          return refusal(error);
        }
      },
    );
    if (!placed) return null;
    const restored = await this.em.findOneOrFail(
      Asset,
      { id: asset.id },
      { populate: ['library'], refresh: true },
    );
    if (restored.kind !== 'other')
      await this.queue.enqueue('metadata', { assetId: restored.id }, restored.id);
    return restored;
  }

  /**
   * Of these hashes: `existing`, those the user already has — exactly the ones ingestUpload would
   * answer as duplicates (live in their uploads library, original on disk), so an uploader skips
   * nothing whose stored copy is gone; and `lost`, those the user sent and Nook lost — an asset of
   * their uploads library whose original is gone, or content of which no upload was ever kept though
   * a watched folder of theirs had it (answered "duplicate" of that copy before uploads were checked
   * against the disk). Not what they deleted themselves: an uploader that remembers what it sent
   * re-sends only the lost.
   */
  async hashStates(ownerId: string, hashes: string[]): Promise<{ existing: string[]; lost: string[] }> {
    if (hashes.length === 0) return { existing: [], lost: [] };
    const wanted = [...new Set(hashes)];
    const rows = await this.em.find(
      Asset,
      { owner: ownerId, sha256: { $in: wanted } },
      { populate: ['library'] },
    );
    const intact = new Set<string>();
    const live = rows.filter(
      (asset) => asset.library.getEntity().type === 'upload' && asset.deletedAt === null,
    );
    for (let start = 0; start < live.length; start += CHECK_CONCURRENCY) {
      await Promise.all(
        live.slice(start, start + CHECK_CONCURRENCY).map(async (asset) => {
          if (!intact.has(asset.sha256) && (await originalIntact(this.dataDir, asset)))
            intact.add(asset.sha256);
        }),
      );
    }
    const uploadedLive = new Set(live.map((asset) => asset.sha256));
    const uploadedEver = new Set(
      rows.filter((asset) => asset.library.getEntity().type === 'upload').map((asset) => asset.sha256),
    );
    const inFolders = new Set(
      rows.filter((asset) => asset.library.getEntity().type !== 'upload').map((asset) => asset.sha256),
    );
    return {
      existing: wanted.filter((hash) => intact.has(hash)),
      lost: wanted.filter(
        (hash) =>
          !intact.has(hash) && (uploadedLive.has(hash) || (!uploadedEver.has(hash) && inFolders.has(hash))),
      ),
    };
  }

  /** Live (not trashed, not offline) assets only. */
  async findOwned(id: string, ownerId: string): Promise<Asset | null> {
    return this.em.findOne(Asset, { id, ...visibleTo(ownerId) }, { populate: ['library'] });
  }

  async update(
    ownerId: string,
    id: string,
    changes: { favorite?: boolean; description?: string | null; takenAt?: Date },
  ): Promise<Asset> {
    const asset = await this.findOwned(id, ownerId);
    if (!asset) throw new NookError('NOT_FOUND', 'asset not found');
    if (changes.favorite !== undefined) asset.favorite = changes.favorite;
    if (changes.description !== undefined) asset.description = changes.description?.trim() || null;
    if (changes.takenAt) {
      asset.takenAt = changes.takenAt;
      asset.takenAtSource = 'manual';
    }
    await this.em.flush();
    return asset;
  }

  /** Those of `ids` that are the owner's live assets, newest first, with their libraries. */
  async findOwnedMany(ids: string[], ownerId: string): Promise<Asset[]> {
    return this.em.find(
      Asset,
      { id: { $in: ids }, ...visibleTo(ownerId) },
      { populate: ['library'], orderBy: { takenAt: 'desc', id: 'desc' } },
    );
  }

  /** Marks (or unmarks) many of the owner's live assets at once; says how many changed. */
  async setFavorite(ownerId: string, ids: string[], favorite: boolean): Promise<number> {
    return this.em.nativeUpdate(
      Asset,
      { id: { $in: ids }, ...visibleTo(ownerId), favorite: !favorite },
      { favorite, updatedAt: new Date() },
    );
  }

  async findById(id: string): Promise<Asset | null> {
    return this.em.findOne(Asset, { id }, { populate: ['library'] });
  }

  async resolveOriginal(asset: Asset): Promise<string> {
    return resolveOriginalPath(this.dataDir, asset);
  }

  /** Stores what the metadata job learned; a missing taken-at keeps the file's time. */
  async recordMetadata(id: string, metadata: AssetMetadata): Promise<void> {
    const { takenAt, ...rest } = metadata;
    const changes: Partial<Asset> = { ...rest, updatedAt: new Date() };
    if (takenAt) changes.takenAt = takenAt;
    else changes.takenAtSource = 'file';
    await this.em.nativeUpdate(Asset, { id }, changes);
  }

  async markReady(
    id: string,
    result: { width: number; height: number; thumbhash?: string | null },
  ): Promise<void> {
    await this.em.nativeUpdate(
      Asset,
      { id },
      { ...result, status: 'ready', error: null, updatedAt: new Date() },
    );
  }

  /** Failed assets, newest first, for the jobs page. */
  async listFailed(ownerId: string | null, limit: number): Promise<Asset[]> {
    return this.em.find(
      Asset,
      { status: 'failed', deletedAt: null, ...(ownerId && { owner: ownerId }) },
      { orderBy: { updatedAt: 'desc' }, limit },
    );
  }

  /**
   * Sends failed assets (all, or only those in `ids`) through the pipeline again; returns how many.
   * Those whose original is missing stay marked: only an upload of the file brings it back.
   */
  async retryFailed(ownerId: string | null, ids?: string[]): Promise<number> {
    const failed = await this.em.find(Asset, {
      status: 'failed',
      $or: [{ error: null }, { error: { $ne: ORIGINAL_MISSING } }],
      deletedAt: null,
      ...(ownerId && { owner: ownerId }),
      ...(ids && { id: { $in: ids } }),
    });
    for (const asset of failed) {
      await this.em.nativeUpdate(
        Asset,
        { id: asset.id },
        { status: 'pending', error: null, updatedAt: new Date() },
      );
      await this.queue.enqueue('metadata', { assetId: asset.id }, asset.id);
    }
    return failed.length;
  }

  /**
   * Re-queues media whose derived files are missing on disk (deleted, lost with a disk, or never
   * made because a job was lost); returns how many.
   */
  async makeMissing(ownerId: string | null): Promise<number> {
    const media = await this.em.find(Asset, {
      kind: { $in: ['image', 'video'] },
      status: { $ne: 'failed' },
      deletedAt: null,
      ...(ownerId && { owner: ownerId }),
    });
    const exists = (file: string) =>
      access(file).then(
        () => true,
        () => false,
      );
    let queued = 0;
    for (const asset of media) {
      const derived = await Promise.all([
        exists(this.dataDir.derivedPath(asset.sha256, 'thumb')),
        exists(this.dataDir.derivedPath(asset.sha256, 'preview')),
      ]);
      if (asset.status === 'ready' && derived.every(Boolean)) continue;
      await this.queue.enqueue('metadata', { assetId: asset.id }, asset.id);
      queued += 1;
    }
    return queued;
  }

  /**
   * A final failure, kept on the asset so people can see why a file has no thumbnail. Members read
   * it, and server paths are the administrator's: the log keeps the whole message.
   */
  async markFailed(id: string, reason: string): Promise<void> {
    await this.em.nativeUpdate(
      Asset,
      { id },
      { status: 'failed', error: withoutServerPaths(reason).slice(0, 2000), updatedAt: new Date() },
    );
  }
}

/** Which unique index refused an insert or update: the library path, or the owner's content key. */
function refusal(error: unknown): Commit {
  if (error instanceof UniqueConstraintViolationException) {
    // The message carries the statement too; SQLite names the index's columns after this.
    const columns = /UNIQUE constraint failed: (.*)$/m.exec(error.message)?.[1] ?? '';
    if (columns.includes('.content_key')) return 'content-taken';
    if (columns.includes('.path')) return 'path-taken';
  }
  throw error;
}

/** `open '/srv/My Photos/a.jpg'` becomes `open '…/a.jpg'`: the file is named, its folders are not. */
export function withoutServerPaths(message: string): string {
  return (
    message
      // Quoted paths may hold spaces: the whole quote is one path.
      .replace(/(['"`])\/(?:[^'"`]*\/)?([^'"`/]*)\1/g, '$1…/$2$1')
      .replace(/(?<![\w.:/~…-])\/(?:[^\s'"`:,;()/]+\/)+/g, '…/')
  );
}
