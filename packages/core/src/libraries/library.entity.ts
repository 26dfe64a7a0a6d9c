// A place assets live: a user's uploads under <data>/library/<user>, or a watched folder / NAS share.
import { randomUUID } from 'node:crypto';
import { EntitySchema, type Opt, type Ref } from '@mikro-orm/core';
import type { User } from '../users/user.entity';

export type LibraryType = 'upload' | 'folder';

/** `auto` picks events on local disks and polling on network filesystems. */
export const watchModes = ['auto', 'events', 'poll', 'off'] as const;
export type WatchMode = (typeof watchModes)[number];

/** How the ingest process actually follows the library: decided per root at run time. */
export type WatchingWith = 'events' | 'poll';

/** What the last reconcile found, for the status page. */
export interface ScanStats {
  seen: number;
  /** Folders walked: each takes an inotify watch when the library is watched with events. */
  directories: number;
  added: number;
  changed: number;
  moved: number;
  missing: number;
  restored: number;
  unreadable: number;
  hashed: number;
  durationMs: number;
}

/** How far a running scan is: the walk has found `seen` files, of which `toHash` are new or changed. */
export interface ScanProgress {
  phase: 'walking' | 'hashing';
  seen: number;
  toHash: number;
  hashed: number;
}

export class Library {
  id: string = randomUUID();
  name!: string;
  type!: LibraryType;
  /** Absolute for folders; relative to the data dir for uploads, so a restored data dir can move. */
  rootPath!: string;
  owner!: Ref<User>;
  enabled: Opt<boolean> = true;
  watchMode: Opt<WatchMode> = 'auto';
  pollIntervalSeconds: Opt<number> = 30;
  /** Hours between scheduled reconciles; the watcher keeps up in between. */
  scanIntervalHours: Opt<number> = 24;
  /** Globs on paths relative to the root; a pattern without a slash matches any file or folder name. */
  exclude: Opt<string[]> = [];
  /** Lower-case extensions without the dot; null takes every file. */
  includeExtensions: string[] | null = null;
  /** Set while the root is unreachable (NAS off, disk unplugged): its files are not marked missing. */
  offlineAt: Date | null = null;
  /** The filesystem type of the root's mount (ext4, cifs, fuse.sshfs, …), as last seen by ingest. */
  filesystem: string | null = null;
  watchingWith: WatchingWith | null = null;
  lastScanStartedAt: Date | null = null;
  lastScanFinishedAt: Date | null = null;
  lastScanError: string | null = null;
  lastScanStats: ScanStats | null = null;
  /** Set while a scan runs, null once it has finished. */
  scanProgress: ScanProgress | null = null;
  createdAt: Opt<Date> = new Date();
  updatedAt: Opt<Date> = new Date();
}

export const LibrarySchema = new EntitySchema<Library>({
  class: Library,
  tableName: 'libraries',
  properties: {
    id: { type: 'string', length: 36, primary: true },
    name: { type: 'string', length: 128 },
    type: { type: 'string', length: 16 },
    rootPath: { type: 'string', length: 4096 },
    owner: { kind: 'm:1', entity: 'User', ref: true, deleteRule: 'cascade' },
    enabled: { type: 'boolean', default: true },
    watchMode: { type: 'string', length: 8, default: 'auto' },
    pollIntervalSeconds: { type: 'integer', default: 30 },
    scanIntervalHours: { type: 'integer', default: 24 },
    exclude: { type: 'json', default: '[]' },
    includeExtensions: { type: 'json', nullable: true },
    offlineAt: { type: 'datetime', nullable: true },
    filesystem: { type: 'string', length: 64, nullable: true },
    watchingWith: { type: 'string', length: 8, nullable: true },
    lastScanStartedAt: { type: 'datetime', nullable: true },
    lastScanFinishedAt: { type: 'datetime', nullable: true },
    lastScanError: { type: 'text', nullable: true },
    lastScanStats: { type: 'json', nullable: true },
    scanProgress: { type: 'json', nullable: true },
    createdAt: { type: 'datetime' },
    updatedAt: { type: 'datetime', onUpdate: () => new Date() },
  },
});
