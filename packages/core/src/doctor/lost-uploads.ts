// Uploads whose bytes Nook no longer has, and what each user should send again.
//
// Two ways an upload vanished before uploads were checked against the disk: its original was
// deleted from library/ (by hand, a failed disk, a partial restore) while the row stayed, so every
// later upload of the file was answered "duplicate" of the row; or it was answered "duplicate" of a
// copy in a watched folder and nothing was stored, and that copy has since left the folder.
import type { EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import { ORIGINAL_MISSING, originalIntact } from '../assets/original-intact';
import type { DataDir } from '../storage/data-dir';

export interface LostFile {
  id: string;
  name: string;
  sha256: string;
  size: number;
  /** When it was uploaded (or first seen in its folder). */
  addedAt: Date;
}

export interface LostFiles {
  username: string;
  files: LostFile[];
}

const BATCH = 500;

const byUser = (rows: (LostFile & { username: string })[]): LostFiles[] => {
  const users = new Map<string, LostFile[]>();
  for (const { username, ...file } of rows) {
    const files = users.get(username) ?? [];
    files.push(file);
    users.set(username, files);
  }
  return [...users].sort(([a], [b]) => a.localeCompare(b)).map(([username, files]) => ({ username, files }));
};

/** Live assets of the uploads libraries whose original is gone from disk or no longer whole. */
export async function findLostUploads(em: EntityManager, dataDir: DataDir): Promise<LostFiles[]> {
  const lost: (LostFile & { username: string })[] = [];
  let after = '';
  for (;;) {
    const batch = await em.find(
      Asset,
      { library: { type: 'upload' }, deletedAt: null, id: { $gt: after } },
      { populate: ['library', 'owner'], orderBy: { id: 'asc' }, limit: BATCH },
    );
    for (const asset of batch) {
      if (await originalIntact(dataDir, asset)) continue;
      lost.push({
        username: asset.owner.getEntity().username,
        id: asset.id,
        name: asset.name,
        sha256: asset.sha256,
        size: asset.size,
        addedAt: asset.createdAt,
      });
    }
    if (batch.length < BATCH) break;
    after = batch[batch.length - 1]!.id;
    em.clear();
  }
  return byUser(lost.sort((a, b) => a.addedAt.getTime() - b.addedAt.getTime()));
}

/**
 * Marks lost uploads failed with ORIGINAL_MISSING, so the dashboard shows them; re-uploading the
 * file puts the original back and clears the mark. Returns how many rows changed.
 */
export async function markLostUploads(em: EntityManager, ids: string[]): Promise<number> {
  let changed = 0;
  for (let start = 0; start < ids.length; start += BATCH) {
    changed += await em.nativeUpdate(
      Asset,
      {
        id: { $in: ids.slice(start, start + BATCH) },
        $or: [{ status: { $ne: 'failed' } }, { error: { $ne: ORIGINAL_MISSING } }],
      },
      { status: 'failed', error: ORIGINAL_MISSING, updatedAt: new Date() },
    );
  }
  return changed;
}

/**
 * Files that left a watched folder and of which the user keeps no other copy, for users some of
 * whose uploads were answered "duplicate" (counted in upload_savings): any of them may have been
 * such an upload, of which nothing was stored. Which ones, Nook did not record.
 */
export async function findGoneFolderCopies(em: EntityManager): Promise<LostFiles[]> {
  const rows = await em.getConnection().execute<
    {
      id: string;
      name: string;
      sha256: string;
      size: number;
      created_at: number | string;
      username: string;
    }[]
  >(
    `select a.id, a.name, a.sha256, a.size, a.created_at, u.username
       from assets a
       join libraries l on l.id = a.library_id
       join users u on u.id = a.owner_id
      where l.type = 'folder' and a.deleted_at is null and a.offline_at is not null
        and exists (select 1 from upload_savings s where s.owner_id = a.owner_id and s.count > 0)
        and not exists (select 1 from assets b
                         where b.owner_id = a.owner_id and b.sha256 = a.sha256 and b.id <> a.id
                           and b.deleted_at is null and b.offline_at is null)
      order by u.username, a.created_at`,
  );
  return byUser(
    rows.map((row) => ({
      username: row.username,
      id: row.id,
      name: row.name,
      sha256: row.sha256,
      size: Number(row.size),
      addedAt: new Date(typeof row.created_at === 'string' ? row.created_at : Number(row.created_at)),
    })),
  );
}
