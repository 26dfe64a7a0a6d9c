// The timeline filters as SQL over `assets a`, for the raw queries (search, buckets, folders).
import type { TimelineFilters } from '../assets/timeline';

/** Dates are compared as stored: milliseconds since the epoch. */
export function filterSql(ownerId: string, filters: TimelineFilters): { sql: string; params: unknown[] } {
  const clauses = ['a.owner_id = ?', 'a.deleted_at is null', 'a.offline_at is null'];
  const params: unknown[] = [ownerId];
  if (filters.kinds?.length) {
    clauses.push(`a.kind in (${filters.kinds.map(() => '?').join(', ')})`);
    params.push(...filters.kinds);
  }
  if (filters.libraryId) {
    clauses.push('a.library_id = ?');
    params.push(filters.libraryId);
  }
  if (filters.from) {
    clauses.push('a.taken_at >= ?');
    params.push(filters.from.getTime());
  }
  if (filters.to) {
    clauses.push('a.taken_at < ?');
    params.push(filters.to.getTime());
  }
  if (filters.favorite !== undefined) {
    clauses.push('a.favorite = ?');
    params.push(filters.favorite ? 1 : 0);
  }
  if (filters.make) {
    clauses.push('a.make = ?');
    params.push(filters.make);
  }
  if (filters.albumId) {
    clauses.push('exists (select 1 from album_assets aa where aa.asset_id = a.id and aa.album_id = ?)');
    params.push(filters.albumId);
  }
  if (filters.model) {
    clauses.push('a.model = ?');
    params.push(filters.model);
  }
  return { sql: clauses.join(' and '), params };
}
