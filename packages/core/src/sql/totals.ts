// Storage totals kept by triggers, so the stats page never scans the assets table (the GROUP BYs
// over a million rows took seconds, and every commit made them due again). "Live" is what storage
// counts: not in the trash, not purged (offline files still take space where they are).

const live = (row: 'new' | 'old') => `${row}.deleted_at is null and ${row}.purged_at is null`;
const added = (row: 'new' | 'old') => `strftime('%Y-%m', ${row}.created_at / 1000, 'unixepoch')`;

const addTotal = (row: 'new' | 'old') =>
  `insert into asset_totals (owner_id, library_id, kind, month, count, bytes)
     select ${row}.owner_id, ${row}.library_id, ${row}.kind, ${added(row)}, 1, ${row}.size where ${live(row)}
     on conflict (owner_id, library_id, kind, month) do update set count = count + 1, bytes = bytes + excluded.bytes;`;

const removeTotal = (row: 'new' | 'old') =>
  `update asset_totals set count = count - 1, bytes = bytes - ${row}.size
    where ${live(row)} and owner_id = ${row}.owner_id and library_id = ${row}.library_id
      and kind = ${row}.kind and month = ${added(row)};`;

/**
 * Another live copy of the same content, besides this row, exists. The unary plus keeps SQLite on
 * the (owner, sha256) index: left to choose, it took (owner, deleted_at) and walked every live row
 * of the owner on each insert.
 */
const otherCopy = (row: 'new' | 'old') =>
  `exists (select 1 from assets x where x.owner_id = ${row}.owner_id and x.sha256 = ${row}.sha256
             and x.rowid <> ${row}.rowid and +x.deleted_at is null and x.purged_at is null)`;

// Identical content has the same size, so the bytes duplicates take are each copy's size beyond the
// first: a copy arriving beside another adds its size, one leaving while another stays removes it.
const addDuplicate = (row: 'new' | 'old') =>
  `insert into asset_duplicates (owner_id, bytes)
     select ${row}.owner_id, ${row}.size where ${live(row)} and ${otherCopy(row)}
     on conflict (owner_id) do update set bytes = bytes + excluded.bytes;`;

const removeDuplicate = (row: 'new' | 'old') =>
  `update asset_duplicates set bytes = bytes - ${row}.size
    where owner_id = ${row}.owner_id and ${live(row)} and ${otherCopy(row)};`;

export const storageTotalsTriggersSql = [
  `create trigger asset_totals_insert after insert on assets begin ${addTotal('new')} ${addDuplicate('new')} end`,
  `create trigger asset_totals_delete after delete on assets begin ${removeTotal('old')} ${removeDuplicate('old')} end`,
  `create trigger asset_totals_update
     after update of owner_id, library_id, kind, created_at, size, sha256, deleted_at, purged_at on assets
   begin ${removeTotal('old')} ${removeDuplicate('old')} ${addTotal('new')} ${addDuplicate('new')} end`,
];

/** Creates the tables and their triggers, and fills them from the assets already there. */
export const createStorageTotalsSql = [
  `create table asset_totals (
     owner_id text not null, library_id text not null, kind text not null, month text not null,
     count integer not null, bytes integer not null,
     primary key (owner_id, library_id, kind, month)
   ) without rowid`,
  `create table asset_duplicates (owner_id text not null primary key, bytes integer not null) without rowid`,
  ...storageTotalsTriggersSql,
  `insert into asset_totals (owner_id, library_id, kind, month, count, bytes)
     select owner_id, library_id, kind, strftime('%Y-%m', created_at / 1000, 'unixepoch'), count(*), sum(size)
       from assets where deleted_at is null and purged_at is null
      group by owner_id, library_id, kind, strftime('%Y-%m', created_at / 1000, 'unixepoch')`,
  `insert into asset_duplicates (owner_id, bytes)
     select owner_id, sum(size * (copies - 1)) from (
       select owner_id, count(*) as copies, max(size) as size from assets
        where deleted_at is null and purged_at is null group by owner_id, sha256
     ) group by owner_id`,
];

/** Reads of the totals; each is a handful of rows per library and month. */
export const storageTotalsSql = {
  byKind: `select kind, sum(count) as count, sum(bytes) as bytes from asset_totals where owner_id = ?
            group by kind having sum(count) > 0 order by kind`,
  byLibrary: `select l.id as id, l.name as name, l.type as type, coalesce(sum(t.count), 0) as count,
                     coalesce(sum(t.bytes), 0) as bytes
                from libraries l left join asset_totals t on t.library_id = l.id
               where l.owner_id = ? group by l.id order by l.name`,
  byMonth: `select month, sum(count) as count, sum(bytes) as bytes from asset_totals where owner_id = ?
             group by month having sum(count) > 0 order by month`,
  duplicateBytes: `select coalesce(sum(bytes), 0) as bytes from asset_duplicates where owner_id = ?`,
  uploadSavings: `select coalesce(sum(count), 0) as count, coalesce(sum(bytes), 0) as bytes
                    from upload_savings where owner_id = ?`,
  byUser: `select u.id as id, u.username as username, coalesce(sum(t.count), 0) as count,
                  coalesce(sum(t.bytes), 0) as bytes
             from users u left join asset_totals t on t.owner_id = u.id group by u.id order by u.username`,
};

/** Uploads not stored because the same content already was: one row per owner, kept by ingestUpload. */
export const createUploadSavingsSql = [
  `create table upload_savings (owner_id text not null primary key, count integer not null,
     bytes integer not null) without rowid`,
];

export const recordUploadSavingSql = `insert into upload_savings (owner_id, count, bytes) values (?, 1, ?)
  on conflict (owner_id) do update set count = count + 1, bytes = bytes + excluded.bytes`;
