// Per-month counts of live assets, kept by triggers, for a scrubber that does not scan every row.
import { Migration } from '@mikro-orm/migrations';
import { createMonthCountsSql } from '../../sql/months';

export class Migration20261124114800 extends Migration {
  override async up(): Promise<void> {
    for (const statement of createMonthCountsSql) this.addSql(statement);
  }
}
