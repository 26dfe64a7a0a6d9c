// Share links: creating, listing and revoking them, and resolving a link for a visitor.
import type { EntityManager } from '@mikro-orm/sqlite';
import { Album } from '../albums/album.entity';
import { Asset } from '../assets/asset.entity';
import { visibleTo } from '../assets/timeline';
import { AuditService } from '../audit/audit.service';
import type { ClientInfo } from '../auth/auth.service';
import { hashPassword, randomSecret, verifyPassword } from '../auth/secrets';
import { NookError } from '../errors';
import type { User } from '../users/user.entity';
import { Share } from './share.entity';

/** What a share points at: exactly one of an asset and an album. */
export interface NewShare {
  assetId?: string | null;
  albumId?: string | null;
  expiresAt?: Date | null;
  password?: string | null;
  allowDownload: boolean;
}

export class ShareService {
  constructor(private readonly em: EntityManager) {}

  async create(owner: User, input: NewShare, client: ClientInfo): Promise<Share> {
    if (!input.assetId === !input.albumId)
      throw new NookError('BAD_REQUEST', 'a share is for exactly one asset or one album');
    const asset = input.assetId
      ? await this.em.findOne(Asset, { id: input.assetId, owner, deletedAt: null })
      : null;
    const album = input.albumId ? await this.em.findOne(Album, { id: input.albumId, owner }) : null;
    if (input.assetId && !asset) throw new NookError('NOT_FOUND', 'asset not found');
    if (input.albumId && !album) throw new NookError('NOT_FOUND', 'album not found');
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
      throw new NookError('BAD_REQUEST', 'the expiry must be in the future');
    const share = this.em.create(Share, {
      token: randomSecret(24),
      owner,
      asset,
      album,
      allowDownload: input.allowDownload,
      expiresAt: input.expiresAt ?? null,
      passwordHash: input.password ? await hashPassword(input.password) : null,
    });
    await this.em.flush();
    await new AuditService(this.em).record('share_created', {
      actorId: owner.id,
      subject: owner.username,
      ip: client.ip,
      detail: (asset ?? album)?.name,
    });
    return share;
  }

  async list(owner: User): Promise<Share[]> {
    return this.em.find(
      Share,
      { owner, revokedAt: null },
      { orderBy: { createdAt: 'desc' }, populate: ['asset', 'album'] },
    );
  }

  async revoke(owner: User, id: string, client: ClientInfo): Promise<void> {
    const share = await this.em.findOne(Share, { id, owner, revokedAt: null });
    if (!share) throw new NookError('NOT_FOUND', 'share not found');
    share.revokedAt = new Date();
    await this.em.flush();
    await new AuditService(this.em).record('share_revoked', {
      actorId: owner.id,
      subject: owner.username,
      ip: client.ip,
    });
  }

  /** A live share for a visitor's token: not revoked, not expired, its asset not trashed (a deleted album takes its shares along). */
  async resolve(token: string): Promise<Share> {
    const share =
      token.length <= 64
        ? await this.em.findOne(Share, { token }, { populate: ['asset', 'asset.library', 'album'] })
        : null;
    const asset = share?.asset?.getEntity();
    const target = share?.album ? share.album.getEntity() : asset && !asset.deletedAt ? asset : null;
    if (!share || share.revokedAt || !target)
      throw new NookError('NOT_FOUND', 'this link does not exist or was revoked');
    if (share.expiresAt && share.expiresAt.getTime() <= Date.now())
      throw new NookError('NOT_FOUND', 'this link has expired');
    return share;
  }

  /** The live (not trashed, not offline) assets of an album share, newest first. */
  async albumItems(share: Share, limit = 500): Promise<Asset[]> {
    if (!share.album) throw new NookError('NOT_FOUND', 'this link is not for an album');
    return this.em.find(
      Asset,
      { ...visibleTo(share.owner.id), albums: share.album.id },
      { orderBy: { takenAt: 'desc', id: 'desc' }, limit, populate: ['library'] },
    );
  }

  async countAlbumItems(share: Share): Promise<number> {
    if (!share.album) return 0;
    return this.em.count(Asset, { ...visibleTo(share.owner.id), albums: share.album.id });
  }

  /** One live asset of an album share; anything outside the album is as unknown as a wrong token. */
  async albumItem(share: Share, assetId: string): Promise<Asset> {
    const asset = share.album
      ? await this.em.findOne(
          Asset,
          { ...visibleTo(share.owner.id), albums: share.album.id, id: assetId },
          { populate: ['library'] },
        )
      : null;
    if (!asset) throw new NookError('NOT_FOUND', 'not found');
    return asset;
  }

  async checkPassword(share: Share, password: string): Promise<boolean> {
    return !share.passwordHash || verifyPassword(password, share.passwordHash);
  }

  async countView(share: Share): Promise<void> {
    await this.em.nativeUpdate(Share, { id: share.id }, { viewCount: share.viewCount + 1 });
  }
}
