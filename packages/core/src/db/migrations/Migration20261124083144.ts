// Initial schema: users, libraries and assets.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261124083144 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table \`users\` (\`id\` text not null, \`username\` text not null, \`display_name\` text not null, \`role\` text not null default 'member', \`created_at\` datetime not null, primary key (\`id\`));`,
    );
    this.addSql(`create unique index \`users_username_unique\` on \`users\` (\`username\`);`);

    this.addSql(
      `create table \`libraries\` (\`id\` text not null, \`name\` text not null, \`type\` text not null, \`root_path\` text not null, \`owner_id\` text not null, \`created_at\` datetime not null, constraint \`libraries_owner_id_foreign\` foreign key(\`owner_id\`) references \`users\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`,
    );
    this.addSql(`create index \`libraries_owner_id_index\` on \`libraries\` (\`owner_id\`);`);

    this.addSql(
      `create table \`assets\` (\`id\` text not null, \`library_id\` text not null, \`owner_id\` text not null, \`path\` text not null, \`name\` text not null, \`size\` bigint not null, \`mtime\` datetime not null, \`sha256\` text not null, \`mime\` text not null, \`kind\` text not null, \`width\` integer null, \`height\` integer null, \`duration\` double null, \`taken_at\` datetime not null, \`status\` text not null default 'pending', \`error\` text null, \`deleted_at\` datetime null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`assets_library_id_foreign\` foreign key(\`library_id\`) references \`libraries\`(\`id\`) on delete cascade on update cascade, constraint \`assets_owner_id_foreign\` foreign key(\`owner_id\`) references \`users\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`,
    );
    this.addSql(`create index \`assets_library_id_index\` on \`assets\` (\`library_id\`);`);
    this.addSql(`create index \`assets_owner_id_index\` on \`assets\` (\`owner_id\`);`);
    this.addSql(`create index \`assets_timeline_idx\` on \`assets\` (\`taken_at\`, \`id\`);`);
    this.addSql(`create index \`assets_owner_sha256_idx\` on \`assets\` (\`owner_id\`, \`sha256\`);`);
    this.addSql(
      `create unique index \`assets_library_path_unique\` on \`assets\` (\`library_id\`, \`path\`);`,
    );
  }
}
