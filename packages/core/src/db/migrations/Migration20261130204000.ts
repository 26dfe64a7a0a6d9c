// Duplicate uploads answered with the copy already stored: what deduplication actually saved. The
// copies that do sit on disk (a file in a watched folder and its upload) are counted apart.
import { Migration } from '@mikro-orm/migrations';
import { createUploadSavingsSql } from '../../sql/totals';

export class Migration20261130204000 extends Migration {
  override async up(): Promise<void> {
    for (const statement of createUploadSavingsSql) this.addSql(statement);
  }
}
