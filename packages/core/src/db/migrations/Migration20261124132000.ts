// Storage-total triggers made again, now held to the (owner, sha256) index (see sql/totals.ts).
import { Migration } from '@mikro-orm/migrations';
import { storageTotalsTriggersSql } from '../../sql/totals';

export class Migration20261124132000 extends Migration {
  override async up(): Promise<void> {
    for (const name of ['asset_totals_insert', 'asset_totals_delete', 'asset_totals_update'])
      this.addSql(`drop trigger ${name}`);
    for (const statement of storageTotalsTriggersSql) this.addSql(statement);
  }
}
