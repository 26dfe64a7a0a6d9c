// The metadata database: MikroORM over SQLite in WAL mode, migrated at start.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { MikroORM, type Options } from '@mikro-orm/sqlite';
import { Migrator } from '@mikro-orm/migrations';
import { AssetSchema } from '../assets/asset.entity';
import { LibrarySchema } from '../libraries/library.entity';
import { UserSchema } from '../users/user.entity';
import { migrationsList } from './migrations';

export const entities = [UserSchema, LibrarySchema, AssetSchema];

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

export function ormOptions(dataDir: string): Options {
  return {
    dbName: path.join(dataDir, 'nook.db'),
    entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: true },
    allowGlobalContext: false,
    forceUtcTimezone: true,
    pool: {
      afterCreate(connection: SqliteHandle, done: (error: Error | null, connection: SqliteHandle) => void) {
        connection.exec(connectionPragmas, (error) => done(error, connection));
      },
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
export async function openDatabase(dataDir: string, options: { migrate?: boolean } = {}): Promise<MikroORM> {
  mkdirSync(dataDir, { recursive: true });
  const orm = await MikroORM.init(ormOptions(dataDir));
  if (options.migrate !== false) await orm.getMigrator().up();
  return orm;
}

export type { MikroORM } from '@mikro-orm/sqlite';
export type { EntityManager } from '@mikro-orm/sqlite';
