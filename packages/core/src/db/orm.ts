// The metadata database: MikroORM over SQLite in WAL mode, migrated at start.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { MikroORM, type Options } from '@mikro-orm/sqlite';
import { Migrator } from '@mikro-orm/migrations';
import { AlbumSchema } from '../albums/album.entity';
import { AssetSchema } from '../assets/asset.entity';
import { BackupRunSchema } from '../backups/backup-run.entity';
import { BackupScheduleSchema } from '../backups/backup-schedule.entity';
import { AuditEventSchema } from '../audit/audit-event.entity';
import { ApiTokenSchema } from '../auth/api-token.entity';
import { SessionSchema } from '../auth/session.entity';
import { ShareSchema } from '../shares/share.entity';
import { LibrarySchema } from '../libraries/library.entity';
import { UserSchema } from '../users/user.entity';
import { migrationsList } from './migrations';

export const entities = [
  UserSchema,
  LibrarySchema,
  AssetSchema,
  SessionSchema,
  ApiTokenSchema,
  ShareSchema,
  AuditEventSchema,
  AlbumSchema,
  BackupScheduleSchema,
  BackupRunSchema,
];

interface SqliteHandle {
  exec(sql: string, callback: (error: Error | null) => void): void;
}

/**
 * WAL lets the server read while a worker writes; the busy timeout makes a second process wait for
 * the write lock instead of failing. Both are per connection, so they are set whenever one opens.
 */
const connectionPragmas = [
  'PRAGMA journal_mode = WAL',
  'PRAGMA busy_timeout = 10000',
  'PRAGMA synchronous = NORMAL',
  'PRAGMA foreign_keys = ON',
].join(';');

/** Where MikroORM's own messages (migrations applied) go; by default nowhere, so stdout stays ours. */
export type OrmLog = (message: string) => void;

export function ormOptions(dataDir: string, log: OrmLog = () => undefined): Options {
  return {
    logger: log,
    colors: false,
    dbName: path.join(dataDir, 'nook.db'),
    entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: true },
    allowGlobalContext: false,
    forceUtcTimezone: true,
    // One connection: with several, a write transaction whose read snapshot went stale fails at once
    // with SQLITE_BUSY (WAL cannot upgrade it), whatever the busy timeout. Readers of other processes
    // still run beside it.
    pool: {
      min: 1,
      max: 1,
      afterCreate(connection: SqliteHandle, done: (error: Error | null, connection: SqliteHandle) => void) {
        connection.exec(connectionPragmas, (error) => done(error, connection));
      },
    },
    // Full-text search, month counts and storage totals live in tables the entities know nothing of (see sql/).
    schemaGenerator: {
      skipTables: [
        'assets_fts',
        /^assets_fts_/,
        'asset_months',
        'asset_totals',
        'asset_duplicates',
        'upload_savings',
      ],
    },
    migrations: {
      migrationsList,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
    },
  };
}

/** Opens nook.db in the data dir and applies every pending migration. */
export async function openDatabase(
  dataDir: string,
  options: { migrate?: boolean; log?: OrmLog } = {},
): Promise<MikroORM> {
  mkdirSync(dataDir, { recursive: true });
  const orm = await MikroORM.init(ormOptions(dataDir, options.log));
  if (options.migrate !== false) await orm.getMigrator().up();
  return orm;
}

export type { MikroORM } from '@mikro-orm/sqlite';
export type { EntityManager } from '@mikro-orm/sqlite';
