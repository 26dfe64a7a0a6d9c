// The tables the triggers keep (month counts, storage totals, the search index with wider prefixes)
// are filled by their migrations from the assets a database already holds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibraryReads } from '../assets/library-reads';
import { openDatabase, type MikroORM } from '../db/orm';
import { ReadDb } from './read-db';
import { SEARCH_PREFIXES } from './fts';
import { storageTotalsSql } from './totals';

describe('migrations over an existing library', () => {
  let dir: string;
  let orm: MikroORM;
  let db: ReadDb;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nook-hot-reads-'));
    orm = await openDatabase(dir, { migrate: false });
    // As a database from before these tables existed: migrated that far, then filled.
    await orm.getMigrator().up({ to: 'Migration20261124113913' });
    const sql = (query: string, params: unknown[] = []) =>
      orm.em.getConnection().execute(query, params, 'run');
    await sql(
      `insert into users (id, username, display_name, role, created_at) values ('u1', 'ann', 'Ann', 'admin', 0)`,
    );
    await sql(
      `insert into libraries (id, name, type, root_path, owner_id, created_at, updated_at) values ('l1', 'Uploads', 'upload', '', 'u1', 0, 0)`,
    );
    const rows: [string, string, string, number, string, number | null][] = [
      ['a1', 'Beach.jpg', 'image', Date.parse('2019-07-01T00:00:00Z'), 'sha-a', null],
      ['a2', 'Beach copy.jpg', 'image', Date.parse('2019-07-02T00:00:00Z'), 'sha-a', null],
      ['a3', 'Concert.mp4', 'video', Date.parse('2020-01-05T00:00:00Z'), 'sha-b', null],
      ['a4', 'Trashed.jpg', 'image', Date.parse('2020-01-06T00:00:00Z'), 'sha-c', 1],
    ];
    for (const [id, name, kind, takenAt, sha, deletedAt] of rows) {
      await sql(
        `insert into assets (id, library_id, owner_id, path, name, size, mtime, sha256, mime, kind, taken_at,
                             status, favorite, deleted_at, created_at, updated_at)
         values (?, 'l1', 'u1', ?, ?, 100, 0, ?, 'image/jpeg', ?, ?, 'ready', 0, ?, ?, 0)`,
        [id, `Holidays/${name}`, name, sha, kind, takenAt, deletedAt, Date.parse('2024-02-01T00:00:00Z')],
      );
    }
    await orm.getMigrator().up();
    db = new ReadDb(path.join(dir, 'nook.db'));
  });

  afterAll(async () => {
    db?.close();
    await orm?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts the months of live assets', async () => {
    expect(await new LibraryReads(db).monthBuckets('u1', {})).toEqual([
      { month: '2020-01', count: 1 },
      { month: '2019-07', count: 2 },
    ]);
  });

  it('totals storage and duplicate bytes', () => {
    expect(db.all(storageTotalsSql.byKind, ['u1'])).toEqual([
      { kind: 'image', count: 2, bytes: 200 },
      { kind: 'video', count: 1, bytes: 100 },
    ]);
    expect(db.all(storageTotalsSql.byMonth, ['u1'])).toEqual([{ month: '2024-02', count: 3, bytes: 300 }]);
    expect(db.get(storageTotalsSql.duplicateBytes, ['u1'])).toEqual({ bytes: 100 });
  });

  it('rebuilds the search index with the wider prefixes and the old rows in it', async () => {
    const table = db.get<{ sql: string }>(`select sql from sqlite_master where name = 'assets_fts'`);
    expect(table?.sql).toContain(SEARCH_PREFIXES);
    const page = await new LibraryReads(db).search('u1', 'holid beac', {}, 10);
    expect(page.items.map((item) => item.name).sort()).toEqual(['Beach copy.jpg', 'Beach.jpg']);
  });
});
