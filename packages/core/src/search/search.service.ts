// Duplicates: identical content held more than once (search itself is in LibraryReads).
import type { EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import { duplicateGroups } from '../sql/reads';

export class SearchService {
  constructor(private readonly em: EntityManager) {}

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
