// A scan in progress reports how far it is (files seen, to hash, hashed), for the Libraries page.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261130205000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table \`libraries\` add column \`scan_progress\` json null;`);
  }
}
