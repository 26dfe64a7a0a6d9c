// A public link to one asset or one album: unguessable, optionally expiring and password-protected, revocable.
import { randomUUID } from 'node:crypto';
import { EntitySchema, type Opt, type Ref } from '@mikro-orm/core';
import type { Album } from '../albums/album.entity';
import type { Asset } from '../assets/asset.entity';
import type { User } from '../users/user.entity';

export class Share {
  id: string = randomUUID();
  /** The link's secret (192 random bits); the link is the capability, so it is kept to be shown again. */
  token!: string;
  owner!: Ref<User>;
  /** Exactly one of asset and album is set. */
  asset: Ref<Asset> | null = null;
  album: Ref<Album> | null = null;
  passwordHash: string | null = null;
  allowDownload: Opt<boolean> = false;
  expiresAt: Date | null = null;
  viewCount: Opt<number> = 0;
  createdAt: Opt<Date> = new Date();
  revokedAt: Date | null = null;
}

export const ShareSchema = new EntitySchema<Share>({
  class: Share,
  tableName: 'shares',
  properties: {
    id: { type: 'string', length: 36, primary: true },
    token: { type: 'string', length: 64, unique: true },
    owner: { kind: 'm:1', entity: 'User', ref: true, deleteRule: 'cascade' },
    asset: { kind: 'm:1', entity: 'Asset', ref: true, nullable: true, deleteRule: 'cascade' },
    album: { kind: 'm:1', entity: 'Album', ref: true, nullable: true, deleteRule: 'cascade' },
    passwordHash: { type: 'string', length: 255, nullable: true, hidden: true },
    allowDownload: { type: 'boolean' },
    expiresAt: { type: 'datetime', nullable: true },
    viewCount: { type: 'integer' },
    createdAt: { type: 'datetime' },
    revokedAt: { type: 'datetime', nullable: true },
  },
});
