// Assets: offline marker for watched files that went missing, favorites and descriptions.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261124093025 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table \`assets\` add column \`offline_at\` datetime null;`);
    this.addSql(`alter table \`assets\` add column \`favorite\` integer not null default false;`);
    this.addSql(`alter table \`assets\` add column \`description\` text null;`);
  }
}
