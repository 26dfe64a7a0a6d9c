// An album: a named set of one user's assets; deleting it keeps the assets.
import { randomUUID } from 'node:crypto';
import { Collection, EntitySchema, type Opt, type Ref } from '@mikro-orm/core';
import type { Asset } from '../assets/asset.entity';
import type { User } from '../users/user.entity';

export class Album {
  id: string = randomUUID();
  owner!: Ref<User>;
  name!: string;
  /** Chosen by the owner; otherwise the newest asset is shown. */
  cover: Ref<Asset> | null = null;
  assets = new Collection<Asset>(this);
  createdAt: Opt<Date> = new Date();
  updatedAt: Opt<Date> = new Date();
}

export const AlbumSchema = new EntitySchema<Album>({
  class: Album,
  tableName: 'albums',
  properties: {
    id: { type: 'string', length: 36, primary: true },
    owner: { kind: 'm:1', entity: 'User', ref: true, deleteRule: 'cascade' },
    name: { type: 'string', length: 200 },
    cover: { kind: 'm:1', entity: 'Asset', ref: true, nullable: true, deleteRule: 'set null' },
    assets: { kind: 'm:n', entity: 'Asset', pivotTable: 'album_assets', owner: true },
    createdAt: { type: 'datetime' },
    updatedAt: { type: 'datetime', onUpdate: () => new Date() },
  },
});
