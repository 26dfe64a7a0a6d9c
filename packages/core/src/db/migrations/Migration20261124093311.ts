// Folder libraries: watch mode, poll and scan intervals, exclusions, enabled flag and scan status.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261124093311 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table \`libraries\` add column \`enabled\` integer not null default true;`);
    this.addSql(`alter table \`libraries\` add column \`watch_mode\` text not null default 'auto';`);
    this.addSql(
      `alter table \`libraries\` add column \`poll_interval_seconds\` integer not null default 30;`,
    );
    this.addSql(`alter table \`libraries\` add column \`scan_interval_hours\` integer not null default 24;`);
    this.addSql(`alter table \`libraries\` add column \`exclude\` json not null default '[]';`);
    this.addSql(`alter table \`libraries\` add column \`include_extensions\` json null;`);
    this.addSql(`alter table \`libraries\` add column \`offline_at\` datetime null;`);
    this.addSql(`alter table \`libraries\` add column \`filesystem\` text null;`);
    this.addSql(`alter table \`libraries\` add column \`watching_with\` text null;`);
    this.addSql(`alter table \`libraries\` add column \`last_scan_started_at\` datetime null;`);
    this.addSql(`alter table \`libraries\` add column \`last_scan_finished_at\` datetime null;`);
    this.addSql(`alter table \`libraries\` add column \`last_scan_error\` text null;`);
    this.addSql(`alter table \`libraries\` add column \`last_scan_stats\` json null;`);
    // SQLite adds a NOT NULL column only with a default; existing rows then take their creation time.
    this.addSql(`alter table \`libraries\` add column \`updated_at\` datetime not null default 0;`);
    this.addSql(`update \`libraries\` set \`updated_at\` = \`created_at\`;`);
  }
}
