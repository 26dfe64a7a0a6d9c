// Share links: creating, listing and revoking them, and resolving a link for a visitor.
import type { EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import { AuditService } from '../audit/audit.service';
import type { ClientInfo } from '../auth/auth.service';
import { hashPassword, randomSecret, verifyPassword } from '../auth/secrets';
import { NookError } from '../errors';
import type { User } from '../users/user.entity';
import { Share } from './share.entity';

export interface NewShare {
  assetId: string;
  expiresAt?: Date | null;
  password?: string | null;
  allowDownload: boolean;
}

export class ShareService {
  constructor(private readonly em: EntityManager) {}

  async create(owner: User, input: NewShare, client: ClientInfo): Promise<Share> {
    const asset = await this.em.findOne(Asset, { id: input.assetId, owner, deletedAt: null });
    if (!asset) throw new NookError('NOT_FOUND', 'asset not found');
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
      throw new NookError('BAD_REQUEST', 'the expiry must be in the future');
    const share = this.em.create(Share, {
      token: randomSecret(24),
      owner,
      asset,
      allowDownload: input.allowDownload,
      expiresAt: input.expiresAt ?? null,
      passwordHash: input.password ? await hashPassword(input.password) : null,
    });
    await this.em.flush();
    await new AuditService(this.em).record('share_created', {
      actorId: owner.id,
      subject: owner.username,
      ip: client.ip,
      detail: asset.name,
    });
    return share;
  }

  async list(owner: User): Promise<Share[]> {
    return this.em.find(
      Share,
      { owner, revokedAt: null },
      { orderBy: { createdAt: 'desc' }, populate: ['asset'] },
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

  /** A live share for a visitor's token: not revoked, not expired, its asset not deleted. */
  async resolve(token: string): Promise<Share> {
    const share =
      token.length <= 64
        ? await this.em.findOne(Share, { token }, { populate: ['asset', 'asset.library'] })
        : null;
    const asset = share?.asset.getEntity();
    if (!share || share.revokedAt || !asset || asset.deletedAt)
      throw new NookError('NOT_FOUND', 'this link does not exist or was revoked');
    if (share.expiresAt && share.expiresAt.getTime() <= Date.now())
      throw new NookError('NOT_FOUND', 'this link has expired');
    return share;
  }

  async checkPassword(share: Share, password: string): Promise<boolean> {
    return !share.passwordHash || verifyPassword(password, share.passwordHash);
  }

  async countView(share: Share): Promise<void> {
    await this.em.nativeUpdate(Share, { id: share.id }, { viewCount: share.viewCount + 1 });
  }
}
