// Seeds assets into a real Nook metadata database (migrated schema, triggers and all) through SQL.
import type sqlite3 from 'sqlite3';

export function sql<T = unknown>(db: sqlite3.Database, query: string, params: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) =>
    db.all(query, params, (error, rows) => (error ? reject(error) : resolve(rows as T[]))),
  );
}

/**
 * One INSERT … SELECT over a generated sequence: dates spread over 15 years, 40 cameras, folders four
 * deep, unique hashes. It goes through the real triggers, so the FTS5 index is built as in life.
 */
export async function seedAssets(
  db: sqlite3.Database,
  ownerId: string,
  libraryId: string,
  assetCount: number,
): Promise<void> {
  const fifteenYears = 15 * 365 * 24 * 3600 * 1000;
  const start = Date.UTC(2011, 0, 1);
  await sql(db, 'pragma journal_mode = wal');
  await sql(db, 'pragma synchronous = off');
  await sql(
    db,
    `with recursive seq(n) as (select 1 union all select n + 1 from seq where n < ?)
     insert into assets (id, library_id, owner_id, path, name, size, mtime, sha256, mime, kind, width, height,
                         taken_at, taken_at_source, make, model, status, favorite, created_at, updated_at)
     select
       lower(printf('%s-%s-4%s-8%s-%s', hex(randomblob(4)), hex(randomblob(2)), substr(hex(randomblob(2)), 2), substr(hex(randomblob(2)), 2), hex(randomblob(6)))),
       ?, ?,
       printf('%d/%02d/trip-%d/day-%d/IMG_%07d.jpg', 2011 + n % 15, 1 + n % 12, n % 50, n % 7, n),
       printf('IMG_%07d.jpg', n),
       2000000 + n % 3000000, ?, lower(hex(randomblob(32))),
       case when n % 10 = 0 then 'video/mp4' else 'image/jpeg' end,
       case when n % 10 = 0 then 'video' else 'image' end,
       4032, 3024,
       ? + abs(random()) % ?, 'exif-original',
       'Make' || (n % 40 / 4), 'Model ' || (n % 40),
       'ready', n % 97 = 0, ?, ?
     from seq`,
    [assetCount, libraryId, ownerId, Date.now(), start, fifteenYears, Date.now(), Date.now()],
  );
}
