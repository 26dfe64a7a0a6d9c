// The timeline, its month scrubber and search, answered from the read-only connection as plain rows.
import { NookError } from '../errors';
import { toMatchQuery } from '../sql/fts';
import {
  countMatches,
  monthCounts,
  rankedMatches,
  recentMatches,
  timelineJsonRows,
  timelineRows,
  type AssetSummaryRow,
  cameraCounts,
  type CameraRow,
} from '../sql/hot-reads';
import { VersionedCache, type ReadDb } from '../sql/read-db';
import type { Asset } from './asset.entity';
import type { MetadataField } from './asset.service';
import type { TimelineFilters } from './timeline';

/** All a client is told of one asset. */
export type AssetView = Pick<
  Asset,
  | MetadataField
  | 'id'
  | 'name'
  | 'kind'
  | 'mime'
  | 'size'
  | 'takenAt'
  | 'createdAt'
  | 'favorite'
  | 'description'
  | 'thumbhash'
  | 'status'
  | 'error'
  | 'sha256'
>;

/** A page of the grid: rows as read, turned into what clients see by the API's summary mapper. */
export interface SummaryPage {
  items: AssetSummaryRow[];
  nextCursor: string | null;
}

export interface TimelineQuery {
  ownerId: string;
  limit: number;
  cursor?: string | null;
  /** `older` (the default) pages back in time from the cursor, `newer` forward; items stay newest first. */
  direction?: 'older' | 'newer';
  filters?: TimelineFilters;
}

/** Above this many matches a term is "common": bm25 over all of them would cost ~7 µs each. */
const RANKED_MAX_MATCHES = 500;
/** A household has a few dozen cameras and phones; the picker lists at most this many. */
const MAX_CAMERAS = 200;

/** A keyset position in the timeline: the last item's (takenAt, id), opaque to clients. */
export function encodeCursor(asset: { takenAt: number; id: string }): string {
  return Buffer.from(`${asset.takenAt}:${asset.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { takenAt: number; id: string } {
  const [time, id] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  const takenAt = Number(time);
  if (!id || !time || !Number.isSafeInteger(takenAt)) throw new NookError('BAD_REQUEST', 'invalid cursor');
  return { takenAt, id };
}

/** Search cursors say which order they continue: by rank (score, id) or by recency (rowid). */
type SearchCursor = { by: 'rank'; score: number; id: string } | { by: 'recent'; position: number };

function encodeSearchCursor(cursor: SearchCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeSearchCursor(cursor: string): SearchCursor {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (value.by === 'rank' && typeof value.score === 'number' && typeof value.id === 'string')
      return { by: 'rank', score: value.score, id: value.id };
    if (value.by === 'recent' && Number.isSafeInteger(value.position))
      return { by: 'recent', position: value.position as number };
  } catch {
    // fall through to the error below
  }
  throw new NookError('BAD_REQUEST', 'invalid cursor');
}

export class LibraryReads {
  /** Month counts and search pages stay exact until anything commits (see VersionedCache). */
  private readonly buckets: VersionedCache<{ month: string; count: number }[]>;
  private readonly searches: VersionedCache<SummaryPage>;
  private readonly cameraLists: VersionedCache<CameraRow[]>;

  constructor(private readonly db: ReadDb) {
    this.buckets = new VersionedCache(db);
    this.searches = new VersionedCache(db);
    this.cameraLists = new VersionedCache(db, 60_000);
  }

  timeline({ ownerId, limit, cursor, direction = 'older', filters = {} }: TimelineQuery): SummaryPage {
    const rows = timelineRows(
      this.db,
      ownerId,
      filters,
      direction,
      cursor ? decodeCursor(cursor) : null,
      limit + 1,
    );
    const page = rows.slice(0, limit);
    const nextCursor = rows.length > limit ? encodeCursor(page[page.length - 1]!) : null;
    return { items: direction === 'older' ? page : page.reverse(), nextCursor };
  }

  /**
   * The same page as `timeline`, as the JSON text of the API's answer (`{"items":[…],"nextCursor":…}`),
   * written by SQLite (see timelineJsonRows); null when a row needs the ordinary path.
   */
  timelineJson({ ownerId, limit, cursor, direction = 'older', filters = {} }: TimelineQuery): string | null {
    const rows = timelineJsonRows(
      this.db,
      ownerId,
      filters,
      direction,
      cursor ? decodeCursor(cursor) : null,
      limit + 1,
    );
    const page = rows.slice(0, limit);
    if (page.some((row) => row.json === null)) return null;
    const nextCursor = rows.length > limit ? encodeCursor(page[page.length - 1]!) : null;
    if (direction === 'newer') page.reverse();
    return `{"items":[${page.map((row) => row.json).join(',')}],"nextCursor":${JSON.stringify(nextCursor)}}`;
  }

  /**
   * Cameras by use. Counting walks every photo of the owner, so the answer stands for a minute even
   * while imports commit: a camera list a little behind loses nothing.
   */
  async cameras(ownerId: string): Promise<CameraRow[]> {
    return this.cameraLists.get(ownerId, () => cameraCounts(this.db, ownerId, MAX_CAMERAS));
  }

  /** Counts per month (UTC) for the timeline's date scrubber, newest first. */
  async monthBuckets(ownerId: string, filters: TimelineFilters): Promise<{ month: string; count: number }[]> {
    return this.buckets.get(JSON.stringify([ownerId, filters]), () => monthCounts(this.db, ownerId, filters));
  }

  /**
   * Every typed word must match as a prefix. Terms with few matches come ranked by bm25; common ones
   * (hundreds of matches, where rank says little) come most recently added first.
   */
  async search(
    ownerId: string,
    text: string,
    filters: TimelineFilters,
    limit: number,
    cursor?: string | null,
  ): Promise<SummaryPage> {
    const match = toMatchQuery(text);
    if (!match) return { items: [], nextCursor: null };
    const after = cursor ? decodeSearchCursor(cursor) : null;
    return this.searches.get(JSON.stringify([ownerId, match, filters, limit, after]), () => {
      const ranked = after
        ? after.by === 'rank'
        : countMatches(this.db, match, RANKED_MAX_MATCHES + 1) <= RANKED_MAX_MATCHES;
      if (ranked) {
        const rows = rankedMatches(
          this.db,
          ownerId,
          match,
          filters,
          after?.by === 'rank' ? after : null,
          limit + 1,
        );
        const last = rows[limit - 1];
        return {
          items: rows.slice(0, limit),
          nextCursor:
            rows.length > limit ? encodeSearchCursor({ by: 'rank', score: last!.score, id: last!.id }) : null,
        };
      }
      const rows = recentMatches(
        this.db,
        ownerId,
        match,
        filters,
        after?.by === 'recent' ? after.position : null,
        limit + 1,
      );
      return {
        items: rows.slice(0, limit),
        nextCursor:
          rows.length > limit
            ? encodeSearchCursor({ by: 'recent', position: rows[limit - 1]!.position })
            : null,
      };
    });
  }
}
