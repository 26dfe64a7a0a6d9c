// Assets: taking in uploaded files, paging the timeline, finding files on disk.
import { link, mkdir, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ref, type EntityManager } from '@mikro-orm/sqlite';
import { NookError } from '../errors';
import type { Library } from '../libraries/library.entity';
import type { JobQueue } from '../queue/job-queue';
import type { DataDir } from '../storage/data-dir';
import type { ReceivedFile } from '../storage/receive';
import type { User } from '../users/user.entity';
import { UserService } from '../users/user.service';
import { Asset } from './asset.entity';
import { safeFileName, withSuffix } from './file-name';
import { detectMediaType } from './media-type';
import { resolveOriginalPath } from './original-path';

export interface UploadResult {
  asset: Asset;
  duplicate: boolean;
}

export interface AssetPage {
  items: Asset[];
  nextCursor: string | null;
}

export interface ListOptions {
  ownerId: string;
  limit: number;
  cursor?: string | null;
}

/** A keyset position in the timeline: the last item's (takenAt, id), opaque to clients. */
export function encodeCursor(asset: Pick<Asset, 'takenAt' | 'id'>): string {
  return Buffer.from(`${asset.takenAt.getTime()}:${asset.id}`).toString('base64url');
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}

export function decodeCursor(cursor: string): { takenAt: Date; id: string } {
  const [time, id] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  const takenAt = new Date(Number(time));
  if (!id || Number.isNaN(takenAt.getTime())) throw new InvalidCursorError('invalid cursor');
  return { takenAt, id };
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
      status: mediaType.kind === 'image' ? 'pending' : 'ready',
    });
    try {
      await this.em.flush();
    } catch (error) {
      await rm(path.join(libraryRoot, relativePath), { force: true });
      throw error;
    }
    await unlink(received.tempPath);
    if (asset.kind === 'image') await this.queue.enqueue('thumbnail', { assetId: asset.id }, asset.id);
    return { asset, duplicate: false };
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

  /** Newest first, paged by (takenAt, id) so pages stay stable while files arrive. */
  async list({ ownerId, limit, cursor }: ListOptions): Promise<AssetPage> {
    const after = cursor ? decodeCursor(cursor) : null;
    const items = await this.em.find(
      Asset,
      {
        owner: ownerId,
        deletedAt: null,
        ...(after && {
          $or: [{ takenAt: { $lt: after.takenAt } }, { takenAt: after.takenAt, id: { $lt: after.id } }],
        }),
      },
      { orderBy: { takenAt: 'desc', id: 'desc' }, limit: limit + 1 },
    );
    const hasMore = items.length > limit;
    const page = hasMore ? items.slice(0, limit) : items;
    return { items: page, nextCursor: hasMore ? encodeCursor(page[page.length - 1]!) : null };
  }

  async findOwned(id: string, ownerId: string): Promise<Asset | null> {
    return this.em.findOne(Asset, { id, owner: ownerId, deletedAt: null }, { populate: ['library'] });
  }

  async findById(id: string): Promise<Asset | null> {
    return this.em.findOne(Asset, { id }, { populate: ['library'] });
  }

  async resolveOriginal(asset: Asset): Promise<string> {
    return resolveOriginalPath(this.dataDir, asset);
  }

  async markReady(id: string, dimensions: { width: number; height: number }): Promise<void> {
    await this.em.nativeUpdate(
      Asset,
      { id },
      { ...dimensions, status: 'ready', error: null, updatedAt: new Date() },
    );
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
