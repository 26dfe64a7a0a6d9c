// Read queries the ORM cannot express well (grouping by folder and by content hash).
import type { EntityManager } from '@mikro-orm/sqlite';

async function all<T>(em: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  return em.getConnection().execute<T[]>(sql, params, 'all');
}

/**
 * The sub-folders directly under `prefix` ('' for the library root, else 'a/b/') with how many live
 * assets each holds at any depth. The path range keeps the (library, path) index in use.
 */
export async function subFolders(em: EntityManager, ownerId: string, libraryId: string, prefix: string) {
  const start = prefix.length + 1;
  const range = prefix ? 'and a.path >= ? and a.path < ?' : '';
  return all<{ folder: string; count: number }>(
    em,
    `select substr(substr(a.path, ?), 1, instr(substr(a.path, ?), '/') - 1) as folder, count(*) as count
       from assets a
      where a.owner_id = ? and a.library_id = ? and a.deleted_at is null and a.offline_at is null ${range}
        and instr(substr(a.path, ?), '/') > 0
      group by folder order by folder limit 1000`,
    [start, start, ownerId, libraryId, ...(prefix ? [prefix, prefixEnd(prefix)] : []), start],
  );
}

/** The smallest string greater than every string starting with `prefix` ('a/' → 'a0'). */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** Groups of identical content (same SHA-256) held more than once, paged by hash. */
export async function duplicateGroups(
  em: EntityManager,
  ownerId: string,
  limit: number,
  afterSha: string | null,
) {
  return all<{ sha256: string; copies: number; size: number }>(
    em,
    `select a.sha256 as sha256, count(*) as copies, max(a.size) as size from assets a
      where a.owner_id = ? and a.deleted_at is null and a.purged_at is null ${afterSha ? 'and a.sha256 > ?' : ''}
      group by a.sha256 having count(*) > 1 order by a.sha256 limit ?`,
    [ownerId, ...(afterSha ? [afterSha] : []), limit],
  );
}

/** Ids of the live assets directly in the folder `prefix` (not in its sub-folders), by name. */
/** Files directly in a folder (not in its subfolders), by name then id, from `after` on. */
export async function folderFileIds(
  em: EntityManager,
  ownerId: string,
  libraryId: string,
  prefix: string,
  limit: number,
  after: { name: string; id: string } | null = null,
) {
  const where = folderFilesWhere(prefix);
  const rows = await all<{ id: string }>(
    em,
    `select a.id as id from assets a where ${where.sql} ${after ? 'and (a.name, a.id) > (?, ?)' : ''}
      order by a.name, a.id limit ?`,
    [ownerId, libraryId, ...where.params, ...(after ? [after.name, after.id] : []), limit],
  );
  return rows.map((row) => row.id);
}

/** How many files sit directly in a folder. */
export async function folderFileCount(em: EntityManager, ownerId: string, libraryId: string, prefix: string) {
  const where = folderFilesWhere(prefix);
  const [row] = await all<{ count: number }>(
    em,
    `select count(*) as count from assets a where ${where.sql}`,
    [ownerId, libraryId, ...where.params],
  );
  return Number(row?.count ?? 0);
}

/** Live assets of an owner's library directly in the folder `prefix` ('' for the root). */
function folderFilesWhere(prefix: string): { sql: string; params: unknown[] } {
  const range = prefix ? 'and a.path >= ? and a.path < ?' : '';
  return {
    sql: `a.owner_id = ? and a.library_id = ? and a.deleted_at is null and a.offline_at is null ${range}
        and instr(substr(a.path, ?), '/') = 0`,
    params: [...(prefix ? [prefix, prefixEnd(prefix)] : []), prefix.length + 1],
  };
}
