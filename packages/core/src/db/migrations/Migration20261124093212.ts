// Albums, purged trash, per-owner timeline index, and the FTS5 search index with its triggers.
import { Migration } from '@mikro-orm/migrations';
import { createSearchIndexSql } from '../../sql/fts';

export class Migration20261124093212 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table \`albums\` (\`id\` text not null, \`owner_id\` text not null, \`name\` text not null, \`cover_id\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`albums_owner_id_foreign\` foreign key(\`owner_id\`) references \`users\`(\`id\`) on delete cascade on update cascade, constraint \`albums_cover_id_foreign\` foreign key(\`cover_id\`) references \`assets\`(\`id\`) on delete set null on update cascade, primary key (\`id\`));`,
    );
    this.addSql(`create index \`albums_owner_id_index\` on \`albums\` (\`owner_id\`);`);
    this.addSql(`create index \`albums_cover_id_index\` on \`albums\` (\`cover_id\`);`);

    this.addSql(
      `create table \`album_assets\` (\`album_id\` text not null, \`asset_id\` text not null, constraint \`album_assets_album_id_foreign\` foreign key(\`album_id\`) references \`albums\`(\`id\`) on delete cascade on update cascade, constraint \`album_assets_asset_id_foreign\` foreign key(\`asset_id\`) references \`assets\`(\`id\`) on delete cascade on update cascade, primary key (\`album_id\`, \`asset_id\`));`,
    );
    this.addSql(`create index \`album_assets_album_id_index\` on \`album_assets\` (\`album_id\`);`);
    this.addSql(`create index \`album_assets_asset_id_index\` on \`album_assets\` (\`asset_id\`);`);

    this.addSql(`alter table \`assets\` add column \`purged_at\` datetime null;`);
    this.addSql(
      `create index \`assets_owner_timeline_idx\` on \`assets\` (\`owner_id\`, \`taken_at\`, \`id\`);`,
    );
    this.addSql(`create index \`assets_owner_deleted_idx\` on \`assets\` (\`owner_id\`, \`deleted_at\`);`);
    for (const statement of createSearchIndexSql) this.addSql(statement);
  }
}
