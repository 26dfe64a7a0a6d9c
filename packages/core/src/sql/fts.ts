// Full-text search over assets with SQLite FTS5: the one place that holds SQLite-only SQL.
//
// A separate FTS5 table (rowid = the asset's rowid) is kept in sync by triggers, so every writer —
// uploads, workers, ingest, the CLI — updates it without knowing it exists. `unicode61` with
// `remove_diacritics 2` makes matching case- and accent-insensitive; prefix indexes make "bea*" fast.

const camera = (row: 'new' | 'old') => `trim(coalesce(${row}.make, '') || ' ' || coalesce(${row}.model, ''))`;
const values = (row: 'new' | 'old') =>
  `${row}.rowid, ${row}.name, replace(${row}.path, '/', ' '), coalesce(${row}.description, ''), ${camera(row)}, coalesce(${row}.lens, '')`;

/**
 * Prefix indexes up to six characters. Without one for a word's length FTS5 merges the doclists of
 * every term with that prefix in memory before yielding the first row (~0.1 s for a word in every
 * asset at a million); with one the matches stream, so a page stops early. Costs ~4% of the file.
 */
export const SEARCH_PREFIXES = "prefix = '2 3 4 5 6'";

/** Creates the index and its triggers, and fills it from the assets already there. */
export const createSearchIndexSql = [
  `create virtual table assets_fts using fts5(name, path, description, camera, lens, tokenize = "unicode61 remove_diacritics 2", ${SEARCH_PREFIXES})`,
  `create trigger assets_fts_insert after insert on assets begin
     insert into assets_fts (rowid, name, path, description, camera, lens) values (${values('new')});
   end`,
  `create trigger assets_fts_delete after delete on assets begin
     delete from assets_fts where rowid = old.rowid;
   end`,
  `create trigger assets_fts_update after update of name, path, description, make, model, lens on assets begin
     delete from assets_fts where rowid = old.rowid;
     insert into assets_fts (rowid, name, path, description, camera, lens) values (${values('new')});
   end`,
  `insert into assets_fts (rowid, name, path, description, camera, lens)
     select rowid, name, replace(path, '/', ' '), coalesce(description, ''), trim(coalesce(make, '') || ' ' || coalesce(model, '')), coalesce(lens, '') from assets`,
];

/**
 * Turns what a person typed into an FTS5 query: every word must match as a prefix. Quoting each
 * word keeps FTS5 operators and punctuation in the input from being interpreted.
 */
export function toMatchQuery(text: string): string | null {
  const words = text.normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? [];
  if (words.length === 0) return null;
  return words
    .slice(0, 16)
    .map((word) => `"${word}"*`)
    .join(' ');
}
