// The trash: deleting moves assets here; emptying it removes uploaded originals, never watched files.
import { rm } from 'node:fs/promises';
import type { EntityManager } from '@mikro-orm/sqlite';
import { NookError } from '../errors';
import type { DataDir } from '../storage/data-dir';
import { Asset } from './asset.entity';
import { resolveOriginalPath } from './original-path';

export interface TrashPage {
  items: Asset[];
  nextCursor: string | null;
}

function encode(asset: Asset): string {
  return Buffer.from(`${asset.deletedAt!.getTime()}:${asset.id}`).toString('base64url');
}

function decode(cursor: string): { deletedAt: Date; id: string } {
  const [time, id] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  const deletedAt = new Date(Number(time));
  if (!id || Number.isNaN(deletedAt.getTime())) throw new NookError('BAD_REQUEST', 'invalid cursor');
  return { deletedAt, id };
}

export class TrashService {
  constructor(
    private readonly em: EntityManager,
    private readonly dataDir: DataDir,
  ) {}

  async trash(ownerId: string, ids: string[]): Promise<number> {
    return this.em.nativeUpdate(
      Asset,
      { id: { $in: ids }, owner: ownerId, deletedAt: null },
      { deletedAt: new Date() },
    );
  }

  /**
   * Content uploaded again while its first copy sat in the trash is live under its content key: the
   * restored copy comes back without the key, a second copy as the owner asked, rather than failing
   * (so does all but one of several restored copies of one content).
   */
  async restore(ownerId: string, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.em.transactional(async (em) => {
      const list = ids.map(() => '?').join(', ');
      await em.getConnection().execute(
        `update assets set content_key = null
          where id in (${list}) and owner_id = ? and deleted_at is not null and purged_at is null
            and content_key is not null
            and (exists (select 1 from assets b where b.owner_id = assets.owner_id
                   and b.content_key = assets.content_key and b.deleted_at is null)
              or exists (select 1 from assets b where b.id in (${list}) and b.owner_id = assets.owner_id
                   and b.content_key = assets.content_key and b.deleted_at is not null
                   and b.purged_at is null and b.id < assets.id))`,
        [...ids, ownerId, ...ids],
        'run',
        em.getTransactionContext(),
      );
      return em.nativeUpdate(
        Asset,
        { id: { $in: ids }, owner: ownerId, deletedAt: { $ne: null }, purgedAt: null },
        { deletedAt: null },
      );
    });
  }

  /** Most recently deleted first. */
  async list(ownerId: string, limit: number, cursor?: string | null): Promise<TrashPage> {
    const at = cursor ? decode(cursor) : null;
    const items = await this.em.find(
      Asset,
      {
        owner: ownerId,
        deletedAt: { $ne: null },
        purgedAt: null,
        ...(at && {
          $or: [{ deletedAt: { $lt: at.deletedAt } }, { deletedAt: at.deletedAt, id: { $lt: at.id } }],
        }),
      },
      { orderBy: { deletedAt: 'desc', id: 'desc' }, limit: limit + 1 },
    );
    const hasMore = items.length > limit;
    const page = hasMore ? items.slice(0, limit) : items;
    return { items: page, nextCursor: hasMore ? encode(page[page.length - 1]!) : null };
  }

  /**
   * Empties the trash of one owner (or everyone's), optionally only what was deleted before
   * `deletedBefore`. Uploaded originals are removed from disk; files in watched folders stay where
   * they are and their rows stay marked purged, so the next scan does not bring them back. Derived
   * files go once no other asset shares their content.
   */
  async empty(ownerId: string | null, deletedBefore: Date = new Date()): Promise<number> {
    const doomed = await this.em.find(
      Asset,
      { deletedAt: { $ne: null, $lte: deletedBefore }, purgedAt: null, ...(ownerId && { owner: ownerId }) },
      { populate: ['library'] },
    );
    for (const asset of doomed) {
      if (asset.library.getEntity().type === 'upload') {
        const original = await resolveOriginalPath(this.dataDir, asset).catch(() => null);
        if (original) await rm(original, { force: true });
        this.em.remove(asset);
      } else {
        asset.purgedAt = new Date();
      }
    }
    await this.em.flush();
    const hashes = [...new Set(doomed.map((asset) => asset.sha256))];
    for (const sha256 of hashes) {
      if ((await this.em.count(Asset, { sha256, purgedAt: null })) > 0) continue;
      await Promise.all(
        (['thumb', 'preview'] as const).map((variant) =>
          rm(this.dataDir.derivedPath(sha256, variant), { force: true }),
        ),
      );
    }
    return doomed.length;
  }
}
