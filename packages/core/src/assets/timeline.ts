// What the timeline, search and buckets share: the filters a person can set (as SQL in sql/filters.ts).
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
