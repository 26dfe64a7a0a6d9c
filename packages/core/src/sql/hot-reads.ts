// The reads every screen makes, on the read-only connection: a timeline page, the month scrubber and
// search. Rows come back with the columns a client sees, so no entity is ever built for them.
import type { TimelineFilters } from '../assets/timeline';
import { filterSql } from './filters';
import type { ReadDb } from './read-db';

/**
 * An asset as the grid shows it: what a tile, the viewer's first frame and the selection need.
 * Everything else (camera, exposure, place, path) is read per asset when it is opened: each column
 * here is paid for on every row of every page, ~0.3 µs to convert and ~20 bytes to send.
 */
export interface AssetSummaryRow {
  id: string;
  name: string;
  kind: string;
  mime: string;
  width: number | null;
  height: number | null;
  duration: number | null;
  /** Milliseconds. */
  takenAt: number;
  timeZoneOffset: string | null;
  /** 0 or 1, as SQLite keeps booleans. */
  favorite: number;
  description: string | null;
  thumbhash: string | null;
  status: string;
  /** Why processing failed; a failed tile says so. */
  error: string | null;
  /** The first 16 hex digits of the SHA-256: derived-file URLs carry it, so caches never go stale. */
  version: string;
}

const summaryColumns = `a.id as id, a.name as name, a.kind as kind, a.mime as mime, a.width as width,
  a.height as height, a.duration as duration, a.taken_at as takenAt, a.time_zone_offset as timeZoneOffset,
  a.favorite as favorite, a.description as description, a.thumbhash as thumbhash, a.status as status,
  a.error as error, substr(a.sha256, 1, 16) as version`;

export interface TimelinePosition {
  takenAt: number;
  id: string;
}

/**
 * One page of the timeline by keyset: a row-value comparison walks the (owner, taken_at, id) index
 * from the cursor, so page 10,000 costs what page 1 does.
 */
export function timelineRows(
  db: ReadDb,
  ownerId: string,
  filters: TimelineFilters,
  direction: 'older' | 'newer',
  after: TimelinePosition | null,
  limit: number,
): AssetSummaryRow[] {
  const where = filterSql(ownerId, filters);
  const beyond = direction === 'older' ? '<' : '>';
  const order = direction === 'older' ? 'desc' : 'asc';
  return db.all<AssetSummaryRow>(
    `select ${summaryColumns} from assets a
      where ${where.sql} ${after ? `and (a.taken_at, a.id) ${beyond} (?, ?)` : ''}
      order by a.taken_at ${order}, a.id ${order} limit ?`,
    [...where.params, ...(after ? [after.takenAt, after.id] : []), limit],
  );
}

/**
 * Counts per month (UTC), newest first. Filters on what `asset_months` is keyed by are answered from
 * it; a date range, camera or album needs the rows themselves, narrowed by the same indexes as a page.
 */
export function monthCounts(
  db: ReadDb,
  ownerId: string,
  filters: TimelineFilters,
): { month: string; count: number }[] {
  if (!filters.from && !filters.to && !filters.make && !filters.model && !filters.albumId) {
    const clauses = ['owner_id = ?'];
    const params: unknown[] = [ownerId];
    if (filters.kinds?.length) {
      clauses.push(`kind in (${filters.kinds.map(() => '?').join(', ')})`);
      params.push(...filters.kinds);
    }
    if (filters.libraryId) {
      clauses.push('library_id = ?');
      params.push(filters.libraryId);
    }
    if (filters.favorite !== undefined) {
      clauses.push('favorite = ?');
      params.push(filters.favorite ? 1 : 0);
    }
    return db.all(
      `select month, sum(count) as count from asset_months where ${clauses.join(' and ')}
        group by month having sum(count) > 0 order by month desc`,
      params,
    );
  }
  const where = filterSql(ownerId, filters);
  return db.all(
    `select strftime('%Y-%m', a.taken_at / 1000, 'unixepoch') as month, count(*) as count
       from assets a where ${where.sql} group by month order by month desc`,
    where.params,
  );
}

/** How many assets (anyone's, live or not) match, counting no further than `cap`. */
export function countMatches(db: ReadDb, match: string, cap: number): number {
  return db.get<{ count: number }>(
    'select count(*) as count from (select rowid from assets_fts where assets_fts match ? limit ?)',
    [match, cap],
  )!.count;
}

export type RankedRow = AssetSummaryRow & { score: number };

/**
 * Ranked by bm25 (a hit in the name weighs most), then id, so pages continue from (score, id); lower
 * is better in FTS5. bm25 costs per match, so this is only for terms with few matches.
 */
export function rankedMatches(
  db: ReadDb,
  ownerId: string,
  match: string,
  filters: TimelineFilters,
  after: { score: number; id: string } | null,
  limit: number,
): RankedRow[] {
  const where = filterSql(ownerId, filters);
  // CROSS JOIN keeps the matches driving: otherwise SQLite may walk the owner's assets instead.
  return db.all<RankedRow>(
    `with hits as materialized (
       select rowid, bm25(assets_fts, 10.0, 3.0, 5.0, 2.0, 2.0) as score from assets_fts where assets_fts match ?
     )
     select ${summaryColumns}, h.score as score from hits h cross join assets a on a.rowid = h.rowid
      where ${where.sql} ${after ? 'and (h.score, a.id) > (?, ?)' : ''}
      order by h.score, a.id limit ?`,
    [match, ...where.params, ...(after ? [after.score, after.id] : []), limit],
  );
}

export type RecentRow = AssetSummaryRow & { position: number };

/**
 * A common term's matches, most recently added first: FTS5 yields them in rowid order lazily, so a
 * page stops reading after its last row instead of scoring every match.
 */
export function recentMatches(
  db: ReadDb,
  ownerId: string,
  match: string,
  filters: TimelineFilters,
  before: number | null,
  limit: number,
): RecentRow[] {
  const where = filterSql(ownerId, filters);
  return db.all<RecentRow>(
    `select ${summaryColumns}, f.rowid as position from assets_fts f cross join assets a on a.rowid = f.rowid
      where f.assets_fts match ? ${before !== null ? 'and f.rowid < ?' : ''} and ${where.sql}
      order by f.rowid desc limit ?`,
    [match, ...(before !== null ? [before] : []), ...where.params, limit],
  );
}

export interface CameraRow {
  make: string | null;
  model: string;
  count: number;
}

/** The cameras an owner's live photos were taken with, most used first: the search page's picker. */
export function cameraCounts(db: ReadDb, ownerId: string, limit: number): CameraRow[] {
  return db.all<CameraRow>(
    `select a.make as make, a.model as model, count(*) as count from assets a
      where a.owner_id = ? and a.deleted_at is null and a.offline_at is null and a.model is not null
      group by a.make, a.model order by count desc, a.model collate nocase limit ?`,
    [ownerId, limit],
  );
}
