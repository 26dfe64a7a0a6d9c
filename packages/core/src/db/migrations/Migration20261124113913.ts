// Backup schedules and the history of their runs.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261124113913 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table \`backup_schedules\` (\`id\` text not null, \`name\` text not null, \`cron\` text not null, \`time_zone\` text not null default 'UTC', \`target_dir\` text not null, \`include\` json not null, \`keep_snapshots\` integer not null default 14, \`propagate_deletions\` integer not null default false, \`deletion_grace_days\` integer not null default 30, \`verify_cron\` text null, \`verify_sample_percent\` integer not null default 10, \`enabled\` integer not null default true, \`next_run_at\` datetime null, \`next_verify_at\` datetime null, \`created_at\` datetime not null, \`updated_at\` datetime not null, primary key (\`id\`));`,
    );

    this.addSql(
      `create table \`backup_runs\` (\`id\` text not null, \`schedule_id\` text not null, \`kind\` text not null default 'backup', \`status\` text not null default 'running', \`trigger\` text not null default 'manual', \`started_at\` datetime not null, \`finished_at\` datetime null, \`error\` text null, \`files_copied\` integer not null default 0, \`bytes_copied\` bigint not null default 0, \`files_skipped\` integer not null default 0, \`bytes_skipped\` bigint not null default 0, \`files_deleted\` integer not null default 0, \`files_failed\` integer not null default 0, \`files_checked\` integer not null default 0, \`files_corrupt\` integer not null default 0, \`errors\` json not null, \`progress\` json null, \`snapshot\` text null, \`host\` text null, \`pid\` integer null, constraint \`backup_runs_schedule_id_foreign\` foreign key(\`schedule_id\`) references \`backup_schedules\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`,
    );
    this.addSql(`create index \`backup_runs_schedule_id_index\` on \`backup_runs\` (\`schedule_id\`);`);
    this.addSql(
      `create index \`backup_runs_schedule_started_idx\` on \`backup_runs\` (\`schedule_id\`, \`started_at\`);`,
    );
  }
}
