// Live assets counted per month of taken-at, kept by triggers so the timeline's scrubber never scans
// the assets table (a GROUP BY over a million rows took ~0.5 s; this table holds a few hundred rows
// per library). "Live" is what the timeline shows: not in the trash, not offline.

const month = (row: 'new' | 'old') => `strftime('%Y-%m', ${row}.taken_at / 1000, 'unixepoch')`;
const live = (row: 'new' | 'old') => `${row}.deleted_at is null and ${row}.offline_at is null`;
const key = (row: 'new' | 'old') =>
  `${row}.owner_id, ${row}.library_id, ${row}.kind, ${row}.favorite, ${month(row)}`;

const add = (row: 'new' | 'old') =>
  `insert into asset_months (owner_id, library_id, kind, favorite, month, count)
     select ${key(row)}, 1 where ${live(row)}
     on conflict (owner_id, month, library_id, kind, favorite) do update set count = count + 1;`;

const remove = (row: 'new' | 'old') =>
  `update asset_months set count = count - 1
    where ${live(row)} and owner_id = ${row}.owner_id and month = ${month(row)}
      and library_id = ${row}.library_id and kind = ${row}.kind and favorite = ${row}.favorite;`;

/** Creates the table and its triggers, and fills it from the assets already there. */
export const createMonthCountsSql = [
  `create table asset_months (
     owner_id text not null, library_id text not null, kind text not null, favorite integer not null,
     month text not null, count integer not null,
     primary key (owner_id, month, library_id, kind, favorite)
   ) without rowid`,
  `create trigger asset_months_insert after insert on assets begin ${add('new')} end`,
  `create trigger asset_months_delete after delete on assets begin ${remove('old')} end`,
  `create trigger asset_months_update
     after update of owner_id, library_id, kind, favorite, taken_at, deleted_at, offline_at on assets
   begin ${remove('old')} ${add('new')} end`,
  `insert into asset_months (owner_id, library_id, kind, favorite, month, count)
     select owner_id, library_id, kind, favorite, strftime('%Y-%m', taken_at / 1000, 'unixepoch'), count(*)
       from assets where deleted_at is null and offline_at is null
      group by owner_id, library_id, kind, favorite, strftime('%Y-%m', taken_at / 1000, 'unixepoch')`,
];
