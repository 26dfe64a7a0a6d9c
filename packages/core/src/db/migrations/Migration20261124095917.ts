// Share links for albums.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261124095917 extends Migration {
  override async up(): Promise<void> {
    // SQLite cannot relax NOT NULL on asset_id in place, so the table is rebuilt.
    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(
      `create table \`shares__temp_alter\` (\`id\` text not null, \`token\` text not null, \`owner_id\` text not null, \`asset_id\` text null, \`album_id\` text null, \`password_hash\` text null, \`allow_download\` integer not null default false, \`expires_at\` datetime null, \`view_count\` integer not null default 0, \`created_at\` datetime not null, \`revoked_at\` datetime null, constraint \`shares_owner_id_foreign\` foreign key(\`owner_id\`) references \`users\`(\`id\`) on delete cascade on update cascade, constraint \`shares_asset_id_foreign\` foreign key(\`asset_id\`) references \`assets\`(\`id\`) on delete cascade on update cascade, constraint \`shares_album_id_foreign\` foreign key(\`album_id\`) references \`albums\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`,
    );
    this.addSql(
      `insert into \`shares__temp_alter\` (\`id\`, \`token\`, \`owner_id\`, \`asset_id\`, \`password_hash\`, \`allow_download\`, \`expires_at\`, \`view_count\`, \`created_at\`, \`revoked_at\`) select \`id\`, \`token\`, \`owner_id\`, \`asset_id\`, \`password_hash\`, \`allow_download\`, \`expires_at\`, \`view_count\`, \`created_at\`, \`revoked_at\` from \`shares\`;`,
    );
    this.addSql(`drop table \`shares\`;`);
    this.addSql(`alter table \`shares__temp_alter\` rename to \`shares\`;`);
    this.addSql(`create unique index \`shares_token_unique\` on \`shares\` (\`token\`);`);
    this.addSql(`create index \`shares_owner_id_index\` on \`shares\` (\`owner_id\`);`);
    this.addSql(`create index \`shares_asset_id_index\` on \`shares\` (\`asset_id\`);`);
    this.addSql(`create index \`shares_album_id_index\` on \`shares\` (\`album_id\`);`);
    this.addSql(`pragma foreign_keys = on;`);
  }
}
