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
 * The WHERE and ORDER BY of a timeline page by keyset: a row-value comparison walks the
 * (owner, taken_at, id) index from the cursor, so page 10,000 costs what page 1 does. A date bound on
 * the cursor's side (`to` going older, `from` going newer) is a second bound on the same end of the
 * range, and SQLite ranges the index on one of them only, filtering row by row on the other: 10,000
 * rows deep with a `to` date it read the 10,000 rows before the cursor. Only the tighter one is kept;
 * either implies the other.
 */
function timelinePage(
  ownerId: string,
  filters: TimelineFilters,
  direction: 'older' | 'newer',
  after: TimelinePosition | null,
): { sql: string; params: unknown[] } {
  let bounded = filters;
  let cursor = after;
  if (after && direction === 'older' && filters.to) {
    if (after.takenAt < filters.to.getTime()) bounded = { ...filters, to: undefined };
    else cursor = null;
  }
  if (after && direction === 'newer' && filters.from) {
    if (after.takenAt >= filters.from.getTime()) bounded = { ...filters, from: undefined };
    else cursor = null;
  }
  const where = filterSql(ownerId, bounded);
  const beyond = direction === 'older' ? '<' : '>';
  const order = direction === 'older' ? 'desc' : 'asc';
  return {
    sql: `from assets a where ${where.sql} ${cursor ? `and (a.taken_at, a.id) ${beyond} (?, ?)` : ''}
      order by a.taken_at ${order}, a.id ${order}`,
    params: [...where.params, ...(cursor ? [cursor.takenAt, cursor.id] : [])],
  };
}

/** One page of the timeline, `limit` rows from the cursor. */
export function timelineRows(
  db: ReadDb,
  ownerId: string,
  filters: TimelineFilters,
  direction: 'older' | 'newer',
  after: TimelinePosition | null,
  limit: number,
): AssetSummaryRow[] {
  const page = timelinePage(ownerId, filters, direction, after);
  return db.all<AssetSummaryRow>(`select ${summaryColumns} ${page.sql} limit ?`, [...page.params, limit]);
}

/** A timeline row as the JSON text a client gets, with the keyset position it stands at. */
export interface TimelineJsonRow {
  json: string;
  takenAt: number;
  id: string;
}

/** Milliseconds since the epoch as JavaScript's toISOString() writes them, for years 0 to 9999. */
const isoTakenAt = `printf('%s.%03dZ',
    strftime('%Y-%m-%dT%H:%M:%S', (a.taken_at - ((a.taken_at % 1000) + 1000) % 1000) / 1000, 'unixepoch'),
    ((a.taken_at % 1000) + 1000) % 1000)`;
/**
 * A REAL as JSON that reads back as the same double: json_object writes 15 significant digits
 * (29.97002997002997 became 29.97002997003); 17 always round-trip. Infinity is JSON's null, as in
 * JSON.stringify.
 */
const exactReal = (column: string) =>
  `iif(${column} is null or abs(${column}) > 1.7976931348623157e308, null, json(printf('%!.17g', ${column})))`;
/** The first and last millisecond toISOString() writes with a four-digit year. */
export const ISO_TAKEN_AT_RANGE = [-62167219200000, 253402300799999] as const;

/**
 * A timeline page written by SQLite as JSON, item by item — exactly the API's `toAssetSummary` of
 * the same row (packages/api/src/routers/assets.ts; a test holds the two together). The hottest read
 * spends its time building row objects, mapping them to summaries and stringifying those (~3/4 of a
 * page's cost); SQLite's json_object writes the text directly. A date outside years 0–9999 comes back
 * as a null item: the caller then takes the ordinary path.
 */
export function timelineJsonRows(
  db: ReadDb,
  ownerId: string,
  filters: TimelineFilters,
  direction: 'older' | 'newer',
  after: TimelinePosition | null,
  limit: number,
): TimelineJsonRow[] {
  const page = timelinePage(ownerId, filters, direction, after);
  const derived = `a.status = 'ready' and a.kind != 'other'`;
  const item = `json_object('id', a.id, 'name', a.name, 'kind', a.kind, 'mime', a.mime, 'width', a.width,
    'height', a.height, 'duration', ${exactReal('a.duration')}, 'takenAt', ${isoTakenAt},
    'timeZoneOffset', a.time_zone_offset, 'favorite', json(iif(a.favorite = 1, 'true', 'false')),
    'description', a.description, 'thumbhash', a.thumbhash, 'status', a.status, 'error', a.error,
    'originalUrl', '/api/assets/' || a.id || '/original',
    'thumbnailUrl', iif(${derived}, '/api/assets/' || a.id || '/thumbnail?size=thumb&v=' || substr(a.sha256, 1, 16), null),
    'previewUrl', iif(${derived}, '/api/assets/' || a.id || '/thumbnail?size=preview&v=' || substr(a.sha256, 1, 16), null))`;
  return db.all<TimelineJsonRow>(
    `select iif(a.taken_at between ? and ?, ${item}, null) as json, a.taken_at as takenAt, a.id as id
      ${page.sql} limit ?`,
    [...ISO_TAKEN_AT_RANGE, ...page.params, limit],
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
