// A file Nook knows about: its place on disk, its content hash and what the workers learned of it.
import { randomUUID } from 'node:crypto';
import { BigIntType, Collection, EntitySchema, type Opt, type Ref } from '@mikro-orm/core';
import type { Album } from '../albums/album.entity';
import type { Library } from '../libraries/library.entity';
import type { User } from '../users/user.entity';

export type AssetKind = 'image' | 'video' | 'other';
export type AssetStatus = 'pending' | 'ready' | 'failed';
export type TakenAtSource = 'exif-original' | 'exif-digitized' | 'exif-create' | 'video' | 'file' | 'manual';

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
  /**
   * The sha256 again on an asset of its owner's uploads library: a partial unique index lets one live
   * asset per owner hold a key, so the same content uploaded twice at once is stored once. Null on
   * files of watched folders (two identical files there are two files) and on the later copies of
   * content a Nook without that index had stored twice.
   */
  contentKey: string | null = null;
  mime!: string;
  kind!: AssetKind;
  width: number | null = null;
  height: number | null = null;
  duration: number | null = null;
  /** Never null, so the timeline can page by (takenAt, id); the file's time until metadata says better. */
  takenAt!: Date;
  /** Where takenAt came from: EXIF DateTimeOriginal, CreateDate, a video's creation time, or the file. */
  takenAtSource: Opt<TakenAtSource> = 'file';
  /** The offset the camera recorded (e.g. +02:00), so the local time of the shot can be shown. */
  timeZoneOffset: string | null = null;
  make: string | null = null;
  model: string | null = null;
  lens: string | null = null;
  iso: number | null = null;
  /** Seconds. */
  exposureTime: number | null = null;
  fNumber: number | null = null;
  /** Millimetres. */
  focalLength: number | null = null;
  latitude: number | null = null;
  longitude: number | null = null;
  videoCodec: string | null = null;
  fps: number | null = null;
  /** A ThumbHash (base64) the grid paints before the thumbnail arrives. */
  thumbhash: string | null = null;
  status: Opt<AssetStatus> = 'pending';
  error: string | null = null;
  deletedAt: Date | null = null;
  /** Emptied from the trash: a watched file stays on disk, so its row stays too, to keep it out. */
  purgedAt: Date | null = null;
  /** Set while a watched file is missing from disk: hidden, kept, restored when it comes back. */
  offlineAt: Date | null = null;
  favorite: Opt<boolean> = false;
  albums = new Collection<Album>(this);
  description: string | null = null;
  createdAt: Opt<Date> = new Date();
  updatedAt: Opt<Date> = new Date();
}

/** One live asset per owner and content key (see `contentKey`). */
export const OWNER_CONTENT_UNIQUE = 'assets_owner_content_unique';

export const AssetSchema = new EntitySchema<Asset>({
  class: Asset,
  tableName: 'assets',
  indexes: [
    { name: 'assets_timeline_idx', properties: ['takenAt', 'id'] },
    { name: 'assets_owner_timeline_idx', properties: ['owner', 'takenAt', 'id'] },
    { name: 'assets_owner_deleted_idx', properties: ['owner', 'deletedAt'] },
    { name: 'assets_owner_sha256_idx', properties: ['owner', 'sha256'] },
    { name: 'assets_camera_idx', properties: ['make', 'model'] },
    { name: 'assets_status_idx', properties: ['status'] },
  ],
  uniques: [
    { name: 'assets_library_path_unique', properties: ['library', 'path'] },
    {
      name: OWNER_CONTENT_UNIQUE,
      expression: `create unique index \`${OWNER_CONTENT_UNIQUE}\` on \`assets\` (\`owner_id\`, \`content_key\`) where \`deleted_at\` is null`,
    },
  ],
  properties: {
    id: { type: 'string', length: 36, primary: true },
    library: { kind: 'm:1', entity: 'Library', ref: true, deleteRule: 'cascade' },
    owner: { kind: 'm:1', entity: 'User', ref: true, deleteRule: 'cascade' },
    path: { type: 'string', length: 4096 },
    name: { type: 'string', length: 1024 },
    size: { type: new BigIntType('number') },
    mtime: { type: 'datetime' },
    sha256: { type: 'string', length: 64 },
    contentKey: { type: 'string', length: 64, nullable: true },
    mime: { type: 'string', length: 255 },
    kind: { type: 'string', length: 16 },
    width: { type: 'integer', nullable: true },
    height: { type: 'integer', nullable: true },
    duration: { type: 'double', nullable: true },
    takenAt: { type: 'datetime' },
    takenAtSource: { type: 'string', length: 16 },
    timeZoneOffset: { type: 'string', length: 8, nullable: true },
    make: { type: 'string', length: 128, nullable: true },
    model: { type: 'string', length: 128, nullable: true },
    lens: { type: 'string', length: 255, nullable: true },
    iso: { type: 'integer', nullable: true },
    exposureTime: { type: 'double', nullable: true },
    fNumber: { type: 'double', nullable: true },
    focalLength: { type: 'double', nullable: true },
    latitude: { type: 'double', nullable: true },
    longitude: { type: 'double', nullable: true },
    videoCodec: { type: 'string', length: 32, nullable: true },
    fps: { type: 'double', nullable: true },
    thumbhash: { type: 'string', length: 64, nullable: true },
    status: { type: 'string', length: 16 },
    error: { type: 'text', nullable: true },
    deletedAt: { type: 'datetime', nullable: true },
    offlineAt: { type: 'datetime', nullable: true },
    purgedAt: { type: 'datetime', nullable: true },
    favorite: { type: 'boolean' },
    albums: { kind: 'm:n', entity: 'Album', mappedBy: 'assets' },
    description: { type: 'text', nullable: true },
    createdAt: { type: 'datetime' },
    updatedAt: { type: 'datetime', onUpdate: () => new Date() },
  },
});
