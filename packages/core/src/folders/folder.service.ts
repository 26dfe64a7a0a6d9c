// Browsing a library as the folder tree it is on disk.
import type { EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import { visibleTo } from '../assets/timeline';
import { NookError } from '../errors';
import { Library } from '../libraries/library.entity';
import { folderFileIds, prefixEnd, subFolders } from '../sql/reads';

export interface FolderEntry {
  name: string;
  path: string;
  count: number;
  cover: Asset | null;
}

export interface FolderListing {
  library: Library;
  path: string;
  folders: FolderEntry[];
  files: Asset[];
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

  async list(ownerId: string, libraryId: string, folder: string, fileLimit = 500): Promise<FolderListing> {
    const library = await this.em.findOne(Library, { id: libraryId, owner: ownerId });
    if (!library) throw new NookError('NOT_FOUND', 'library not found');
    const path = normaliseFolder(folder);
    const prefix = path ? `${path}/` : '';
    const rows = await subFolders(this.em, ownerId, libraryId, prefix);
    const folders = await Promise.all(
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
    const ids = await folderFileIds(this.em, ownerId, libraryId, prefix, fileLimit);
    const byId = new Map((await this.em.find(Asset, { id: { $in: ids } })).map((asset) => [asset.id, asset]));
    return { library, path, folders, files: ids.map((id) => byId.get(id)!).filter(Boolean) };
  }
}
