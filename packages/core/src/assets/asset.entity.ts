// A file Nook knows about: its place on disk, its content hash and what the workers learned of it.
import { randomUUID } from 'node:crypto';
import { BigIntType, EntitySchema, type Opt, type Ref } from '@mikro-orm/core';
import type { Library } from '../libraries/library.entity';
import type { User } from '../users/user.entity';

export type AssetKind = 'image' | 'video' | 'other';
export type AssetStatus = 'pending' | 'ready' | 'failed';

export class Asset {
  id: string = randomUUID();
  library!: Ref<Library>;
  owner!: Ref<User>;
  /** Relative to the library root, with forward slashes. */
  path!: string;
  name!: string;
  size!: number;
  mtime!: Date;
  sha256!: string;
  mime!: string;
  kind!: AssetKind;
  width: number | null = null;
  height: number | null = null;
  duration: number | null = null;
  /** Never null, so the timeline can page by (takenAt, id); the file's time until metadata says better. */
  takenAt!: Date;
  status: Opt<AssetStatus> = 'pending';
  error: string | null = null;
  deletedAt: Date | null = null;
  createdAt: Opt<Date> = new Date();
  updatedAt: Opt<Date> = new Date();
}

export const AssetSchema = new EntitySchema<Asset>({
  class: Asset,
  tableName: 'assets',
  indexes: [
    { name: 'assets_timeline_idx', properties: ['takenAt', 'id'] },
    { name: 'assets_owner_sha256_idx', properties: ['owner', 'sha256'] },
  ],
  uniques: [{ name: 'assets_library_path_unique', properties: ['library', 'path'] }],
  properties: {
    id: { type: 'string', length: 36, primary: true },
    library: { kind: 'm:1', entity: 'Library', ref: true, deleteRule: 'cascade' },
    owner: { kind: 'm:1', entity: 'User', ref: true, deleteRule: 'cascade' },
    path: { type: 'string', length: 4096 },
    name: { type: 'string', length: 1024 },
    size: { type: new BigIntType('number') },
    mtime: { type: 'datetime' },
    sha256: { type: 'string', length: 64 },
    mime: { type: 'string', length: 255 },
    kind: { type: 'string', length: 16 },
    width: { type: 'integer', nullable: true },
    height: { type: 'integer', nullable: true },
    duration: { type: 'double', nullable: true },
    takenAt: { type: 'datetime' },
    status: { type: 'string', length: 16 },
    error: { type: 'text', nullable: true },
    deletedAt: { type: 'datetime', nullable: true },
    createdAt: { type: 'datetime' },
    updatedAt: { type: 'datetime', onUpdate: () => new Date() },
  },
});
