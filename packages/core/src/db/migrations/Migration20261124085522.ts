// Accounts: passwords and quotas on users, sessions, API tokens, share links and the audit log.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261124085522 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table \`audit_events\` (\`id\` text not null, \`at\` datetime not null, \`type\` text not null, \`actor_id\` text null, \`subject\` text null, \`ip\` text null, \`detail\` text null, primary key (\`id\`));`,
    );
    this.addSql(`create index \`audit_events_at_idx\` on \`audit_events\` (\`at\`);`);

    this.addSql(
      `create table \`sessions\` (\`id\` text not null, \`user_id\` text not null, \`user_agent\` text not null, \`ip\` text not null, \`created_at\` datetime not null, \`last_seen_at\` datetime not null, \`expires_at\` datetime not null, \`revoked_at\` datetime null, constraint \`sessions_user_id_foreign\` foreign key(\`user_id\`) references \`users\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`,
    );
    this.addSql(`create index \`sessions_user_id_index\` on \`sessions\` (\`user_id\`);`);

    this.addSql(
      `create table \`shares\` (\`id\` text not null, \`token\` text not null, \`owner_id\` text not null, \`asset_id\` text not null, \`password_hash\` text null, \`allow_download\` integer not null default false, \`expires_at\` datetime null, \`view_count\` integer not null default 0, \`created_at\` datetime not null, \`revoked_at\` datetime null, constraint \`shares_owner_id_foreign\` foreign key(\`owner_id\`) references \`users\`(\`id\`) on delete cascade on update cascade, constraint \`shares_asset_id_foreign\` foreign key(\`asset_id\`) references \`assets\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`,
    );
    this.addSql(`create unique index \`shares_token_unique\` on \`shares\` (\`token\`);`);
    this.addSql(`create index \`shares_owner_id_index\` on \`shares\` (\`owner_id\`);`);
    this.addSql(`create index \`shares_asset_id_index\` on \`shares\` (\`asset_id\`);`);

    this.addSql(
      `create table \`api_tokens\` (\`id\` text not null, \`user_id\` text not null, \`name\` text not null, \`token_hash\` text not null, \`prefix\` text not null, \`scopes\` json not null, \`created_at\` datetime not null, \`last_used_at\` datetime null, \`revoked_at\` datetime null, constraint \`api_tokens_user_id_foreign\` foreign key(\`user_id\`) references \`users\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`,
    );
    this.addSql(`create index \`api_tokens_user_id_index\` on \`api_tokens\` (\`user_id\`);`);
    this.addSql(`create unique index \`api_tokens_token_hash_unique\` on \`api_tokens\` (\`token_hash\`);`);

    this.addSql(`alter table \`users\` add column \`password_hash\` text null;`);
    this.addSql(`alter table \`users\` add column \`quota_bytes\` bigint null;`);
  }
}
