// Assets: taking in uploaded files, editing them, finding files on disk.
import { access, link, mkdir, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ref, type EntityManager } from '@mikro-orm/sqlite';
import { NookError } from '../errors';
import type { Library } from '../libraries/library.entity';
import type { JobQueue } from '../queue/job-queue';
import type { DataDir } from '../storage/data-dir';
import type { ReceivedFile } from '../storage/receive';
import type { User } from '../users/user.entity';
import { recordUploadSavingSql } from '../sql/totals';
import { UserService } from '../users/user.service';
import { Asset } from './asset.entity';
import { safeFileName, withSuffix } from './file-name';
import { detectMediaType } from './media-type';
import { resolveOriginalPath } from './original-path';
import { visibleTo } from './timeline';

/** What the metadata job stores: dimensions, when and where, and with what it was taken. */
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

export interface UploadResult {
  asset: Asset;
  duplicate: boolean;
}

export class AssetService {
  constructor(
    private readonly em: EntityManager,
    private readonly dataDir: DataDir,
    private readonly queue: Pick<JobQueue, 'enqueue'>,
  ) {}

  /**
   * Files an uploaded temp file: the same content already in the user's library answers as a
   * duplicate and leaves nothing behind; otherwise the file is linked into
   * library/<user>/<yyyy>/<mm>/ under a free name, recorded, and queued for thumbnails.
   */
  async ingestUpload(
    user: User,
    library: Library,
    received: ReceivedFile,
    clientName: string,
  ): Promise<UploadResult> {
    const existing = await this.em.findOne(
      Asset,
      { owner: user, sha256: received.sha256, deletedAt: null },
      { orderBy: { createdAt: 'asc' } },
    );
    if (existing) {
      await rm(received.tempPath, { force: true });
      await this.em.getConnection().execute(recordUploadSavingSql, [user.id, received.size]);
      return { asset: existing, duplicate: true };
    }
    if (user.quotaBytes !== null) {
      const used = await new UserService(this.em).usedBytes(user.id);
      if (used + received.size > user.quotaBytes) {
        await rm(received.tempPath, { force: true });
        throw new NookError(
          'PAYLOAD_TOO_LARGE',
          `storage quota exceeded: ${used} of ${user.quotaBytes} bytes used, this file needs ${received.size}`,
        );
      }
    }

    const now = new Date();
    const folder = `${now.getFullYear()}/${String(now.getMonth() + 1).padStart(2, '0')}`;
    const libraryRoot = this.dataDir.resolveLibraryRoot(library.rootPath);
    await mkdir(path.join(libraryRoot, folder), { recursive: true });
    const mediaType = await detectMediaType(received.tempPath, clientName);
    const baseName = safeFileName(clientName);
    const { relativePath, name } = await this.linkUnderFreeName(
      received.tempPath,
      libraryRoot,
      folder,
      baseName,
    );

    const asset = this.em.create(Asset, {
      library: ref(library),
      owner: ref(user),
      path: relativePath,
      name,
      size: received.size,
      mtime: now,
      sha256: received.sha256,
      mime: mediaType.mime,
      kind: mediaType.kind,
      takenAt: now,
      status: mediaType.kind === 'other' ? 'ready' : 'pending',
    });
    try {
      await this.em.flush();
    } catch (error) {
      await rm(path.join(libraryRoot, relativePath), { force: true });
      throw error;
    }
    await unlink(received.tempPath);
    if (asset.kind !== 'other') await this.queue.enqueue('metadata', { assetId: asset.id }, asset.id);
    return { asset, duplicate: false };
  }

  /** Which of these hashes the user already has: exactly the ones ingestUpload would answer as duplicates. */
  async existingHashes(ownerId: string, hashes: string[]): Promise<string[]> {
    if (hashes.length === 0) return [];
    const rows = await this.em
      .createQueryBuilder(Asset, 'a')
      .select('a.sha256', true)
      .where({ owner: ownerId, sha256: { $in: [...new Set(hashes)] }, deletedAt: null })
      .execute<{ sha256: string }[]>('all');
    return rows.map((row) => row.sha256);
  }

  /** link(2) refuses to replace an existing file, so two uploads of the same name never clobber. */
  private async linkUnderFreeName(
    tempPath: string,
    libraryRoot: string,
    folder: string,
    baseName: string,
  ): Promise<{ relativePath: string; name: string }> {
    for (let attempt = 0; ; attempt++) {
      const name = withSuffix(baseName, attempt);
      const relativePath = `${folder}/${name}`;
      try {
        await link(tempPath, path.join(libraryRoot, relativePath));
        return { relativePath, name };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
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

  /** Sends failed assets (all, or only those in `ids`) through the pipeline again; returns how many. */
  async retryFailed(ownerId: string | null, ids?: string[]): Promise<number> {
    const failed = await this.em.find(Asset, {
      status: 'failed',
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

  /** A final failure, kept on the asset so people can see why a file has no thumbnail. */
  async markFailed(id: string, reason: string): Promise<void> {
    await this.em.nativeUpdate(
      Asset,
      { id },
      { status: 'failed', error: reason.slice(0, 2000), updatedAt: new Date() },
    );
  }
}
