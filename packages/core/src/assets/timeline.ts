// What the timeline, search and buckets share: the filters a person can set, as SQL and as ORM queries.
import type { ObjectQuery } from '@mikro-orm/core';
import type { Asset, AssetKind } from './asset.entity';

export interface TimelineFilters {
  kinds?: AssetKind[];
  libraryId?: string;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  favorite?: boolean;
  make?: string;
  model?: string;
  albumId?: string;
}

/** Live assets of one owner: not in the trash, not purged, not missing from a watched folder. */
export function visibleTo(ownerId: string): ObjectQuery<Asset> {
  return { owner: ownerId, deletedAt: null, offlineAt: null };
}

export function filterQuery(filters: TimelineFilters): ObjectQuery<Asset> {
  const takenAt: Record<string, Date> = {};
  if (filters.from) takenAt.$gte = filters.from;
  if (filters.to) takenAt.$lt = filters.to;
  return {
    ...(filters.kinds?.length && { kind: { $in: filters.kinds } }),
    ...(filters.libraryId && { library: filters.libraryId }),
    ...(Object.keys(takenAt).length && { takenAt }),
    ...(filters.favorite !== undefined && { favorite: filters.favorite }),
    ...(filters.make && { make: filters.make }),
    ...(filters.model && { model: filters.model }),
    ...(filters.albumId && { albums: filters.albumId }),
  } as ObjectQuery<Asset>;
}
