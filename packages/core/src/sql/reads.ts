// Read queries the ORM cannot express well (grouping by folder and hash, storage totals).
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

const live = 'a.deleted_at is null and a.purged_at is null';

/** Totals for the stats page: one owner's, or everyone's when `ownerId` is null. */
export async function storageTotals(em: EntityManager, ownerId: string | null) {
  const owner = ownerId ? 'and a.owner_id = ?' : '';
  const params = ownerId ? [ownerId] : [];
  const [byKind, byLibrary, byMonth, unique] = await Promise.all([
    all<{ kind: string; count: number; bytes: number }>(
      em,
      `select a.kind as kind, count(*) as count, coalesce(sum(a.size), 0) as bytes from assets a where ${live} ${owner} group by a.kind`,
      params,
    ),
    all<{ id: string; name: string; type: string; count: number; bytes: number }>(
      em,
      `select l.id as id, l.name as name, l.type as type, count(a.id) as count, coalesce(sum(a.size), 0) as bytes
         from libraries l left join assets a on a.library_id = l.id and ${live}
        ${ownerId ? 'where l.owner_id = ?' : ''} group by l.id order by l.name`,
      params,
    ),
    all<{ month: string; count: number; bytes: number }>(
      em,
      `select strftime('%Y-%m', a.created_at / 1000, 'unixepoch') as month, count(*) as count, coalesce(sum(a.size), 0) as bytes
         from assets a where ${live} ${owner} group by month order by month`,
      params,
    ),
    all<{ bytes: number }>(
      em,
      `select coalesce(sum(size), 0) as bytes from (select max(a.size) as size from assets a where ${live} ${owner} group by a.sha256)`,
      params,
    ),
  ]);
  return { byKind, byLibrary, byMonth, uniqueBytes: Number(unique[0]?.bytes ?? 0) };
}

export async function storageByUser(em: EntityManager) {
  return all<{ id: string; username: string; count: number; bytes: number }>(
    em,
    `select u.id as id, u.username as username, count(a.id) as count, coalesce(sum(a.size), 0) as bytes
       from users u left join assets a on a.owner_id = u.id and ${live} group by u.id order by u.username`,
    [],
  );
}

/** Ids of the live assets directly in the folder `prefix` (not in its sub-folders), by name. */
export async function folderFileIds(
  em: EntityManager,
  ownerId: string,
  libraryId: string,
  prefix: string,
  limit: number,
) {
  const start = prefix.length + 1;
  const range = prefix ? 'and a.path >= ? and a.path < ?' : '';
  const rows = await all<{ id: string }>(
    em,
    `select a.id as id from assets a
      where a.owner_id = ? and a.library_id = ? and a.deleted_at is null and a.offline_at is null ${range}
        and instr(substr(a.path, ?), '/') = 0
      order by a.name limit ?`,
    [ownerId, libraryId, ...(prefix ? [prefix, prefixEnd(prefix)] : []), start, limit],
  );
  return rows.map((row) => row.id);
}
