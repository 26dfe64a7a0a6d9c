// Search index rebuilt with prefix indexes up to six characters, so common words stream (see sql/fts.ts).
import { Migration } from '@mikro-orm/migrations';
import { createSearchIndexSql, SEARCH_PREFIXES } from '../../sql/fts';

export class Migration20261124114900 extends Migration {
  override async up(): Promise<void> {
    // A database created since then already has them (the first search migration shares the SQL);
    // dropping and re-creating it in the transaction that created it fails in SQLite.
    const [table] = await this.execute(`select sql from sqlite_master where name = 'assets_fts'`);
    if (String(table?.sql).includes(SEARCH_PREFIXES)) return;
    this.addSql('drop table assets_fts');
    this.addSql(createSearchIndexSql[0]!);
    this.addSql(createSearchIndexSql[createSearchIndexSql.length - 1]!);
  }
}
