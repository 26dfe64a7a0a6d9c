// Search: what people type, matched by FTS5 and narrowed by the timeline's filters, best match first.
import type { EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import type { TimelineFilters } from '../assets/timeline';
import { NookError } from '../errors';
import { toMatchQuery } from '../sql/fts';
import { duplicateGroups, monthBuckets, searchAssets, type SearchHit } from '../sql/reads';

export interface SearchPage {
  items: Asset[];
  nextCursor: string | null;
}

function encode(hit: SearchHit): string {
  return Buffer.from(JSON.stringify([hit.score, hit.id])).toString('base64url');
}

function decode(cursor: string): SearchHit {
  try {
    const [score, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof score === 'number' && typeof id === 'string') return { score, id };
  } catch {
    // fall through to the error below
  }
  throw new NookError('BAD_REQUEST', 'invalid cursor');
}

export class SearchService {
  constructor(private readonly em: EntityManager) {}

  async query(
    ownerId: string,
    text: string,
    filters: TimelineFilters,
    limit: number,
    cursor?: string | null,
  ): Promise<SearchPage> {
    const match = toMatchQuery(text);
    if (!match) return { items: [], nextCursor: null };
    const hits = await searchAssets(
      this.em,
      ownerId,
      match,
      filters,
      limit + 1,
      cursor ? decode(cursor) : null,
    );
    const page = hits.slice(0, limit);
    const byId = new Map(
      (await this.em.find(Asset, { id: { $in: page.map((hit) => hit.id) } })).map((asset) => [
        asset.id,
        asset,
      ]),
    );
    return {
      items: page.map((hit) => byId.get(hit.id)).filter((asset): asset is Asset => Boolean(asset)),
      nextCursor: hits.length > limit ? encode(page[page.length - 1]!) : null,
    };
  }

  async buckets(ownerId: string, filters: TimelineFilters): Promise<{ month: string; count: number }[]> {
    return (await monthBuckets(this.em, ownerId, filters)).map((row) => ({
      month: row.month,
      count: Number(row.count),
    }));
  }

  /** Groups of identical content, each with every copy. */
  async duplicates(ownerId: string, limit: number, afterSha: string | null) {
    const groups = await duplicateGroups(this.em, ownerId, limit + 1, afterSha);
    const page = groups.slice(0, limit);
    const copies = await this.em.find(
      Asset,
      { owner: ownerId, sha256: { $in: page.map((group) => group.sha256) }, deletedAt: null, purgedAt: null },
      { populate: ['library'], orderBy: { createdAt: 'asc' } },
    );
    return {
      groups: page.map((group) => ({
        sha256: group.sha256,
        size: Number(group.size),
        assets: copies.filter((asset) => asset.sha256 === group.sha256),
      })),
      nextCursor: groups.length > limit ? page[page.length - 1]!.sha256 : null,
    };
  }
}
