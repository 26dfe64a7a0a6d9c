// Browsing a library as the folder tree it is on disk.
import type { EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import { visibleTo } from '../assets/timeline';
import { NookError } from '../errors';
import { Library } from '../libraries/library.entity';
import { folderFileCount, folderFileIds, prefixEnd, subFolders } from '../sql/reads';

export interface FolderEntry {
  name: string;
  path: string;
  count: number;
  cover: Asset | null;
}

export interface FolderListing {
  library: Library;
  path: string;
  /** With the first page only: later pages carry more files. */
  folders: FolderEntry[];
  files: Asset[];
  /** Files directly in this folder, however many pages they take. */
  fileCount: number;
  nextCursor: string | null;
}

/** Where the next page of a folder's files starts: after this (name, id), opaque to clients. */
function encodeFileCursor(asset: Asset): string {
  return Buffer.from(JSON.stringify([asset.name, asset.id])).toString('base64url');
}

function decodeFileCursor(cursor: string): { name: string; id: string } {
  try {
    const [name, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof name === 'string' && typeof id === 'string') return { name, id };
  } catch {
    // answered below
  }
  throw new NookError('BAD_REQUEST', 'invalid cursor');
}

/** 'a/b', 'a/b/', '/a/b' all name the same folder; '..' and empty segments name none. */
export function normaliseFolder(path: string): string {
  const segments = path.split('/').filter(Boolean);
  if (segments.some((segment) => segment === '.' || segment === '..'))
    throw new NookError('BAD_REQUEST', 'a folder path cannot contain . or ..');
  return segments.join('/');
}

export class FolderService {
  constructor(private readonly em: EntityManager) {}

  async list(
    ownerId: string,
    libraryId: string,
    folder: string,
    { limit = 500, cursor = null }: { limit?: number; cursor?: string | null } = {},
  ): Promise<FolderListing> {
    const library = await this.em.findOne(Library, { id: libraryId, owner: ownerId });
    if (!library) throw new NookError('NOT_FOUND', 'library not found');
    const path = normaliseFolder(folder);
    const prefix = path ? `${path}/` : '';
    const after = cursor ? decodeFileCursor(cursor) : null;
    const folders = after ? [] : await this.folders(ownerId, libraryId, prefix);
    const ids = await folderFileIds(this.em, ownerId, libraryId, prefix, limit + 1, after);
    const byId = new Map(
      (await this.em.find(Asset, { id: { $in: ids.slice(0, limit) } })).map((asset) => [asset.id, asset]),
    );
    const files = ids
      .slice(0, limit)
      .map((id) => byId.get(id)!)
      .filter(Boolean);
    return {
      library,
      path,
      folders,
      files,
      fileCount: await folderFileCount(this.em, ownerId, libraryId, prefix),
      nextCursor: ids.length > limit && files.length > 0 ? encodeFileCursor(files[files.length - 1]!) : null,
    };
  }

  private async folders(ownerId: string, libraryId: string, prefix: string): Promise<FolderEntry[]> {
    const rows = await subFolders(this.em, ownerId, libraryId, prefix);
    return Promise.all(
      rows.map(async (row) => {
        const inside = `${prefix}${row.folder}/`;
        const cover = await this.em.findOne(
          Asset,
          {
            ...visibleTo(ownerId),
            library: libraryId,
            path: { $gte: inside, $lt: prefixEnd(inside) },
            status: 'ready',
            kind: { $ne: 'other' },
          },
          { orderBy: { takenAt: 'desc' } },
        );
        return { name: row.folder, path: `${prefix}${row.folder}`, count: Number(row.count), cover };
      }),
    );
  }
}
