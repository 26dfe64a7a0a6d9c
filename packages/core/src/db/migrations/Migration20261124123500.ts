// Storage totals and duplicate bytes per owner, kept by triggers, for a stats page that scans nothing.
import { Migration } from '@mikro-orm/migrations';
import { createStorageTotalsSql } from '../../sql/totals';

export class Migration20261124123500 extends Migration {
  override async up(): Promise<void> {
    for (const statement of createStorageTotalsSql) this.addSql(statement);
  }
}
