// One live asset per owner and content in the uploads library: a content key under a partial unique
// index, so two identical uploads at once store one file (see Asset.contentKey).
import { Migration } from '@mikro-orm/migrations';

/** An asset of its owner's uploads library, as `assets` is named in the update below. */
const inUploads = (alias: string) =>
  `${alias}.\`library_id\` in (select \`id\` from \`libraries\` where \`type\` = 'upload')`;

export class Migration20261205213000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table \`assets\` add column \`content_key\` text null;`);
    // Content stored twice before the index existed stays, both copies: the oldest live one holds
    // the key, the others stay unkeyed (legitimate rows, never a reason to fail the upgrade). Trashed
    // rows are outside the index; a restore decides then (TrashService.restore).
    this.addSql(
      `update \`assets\` set \`content_key\` = \`sha256\` where ${inUploads('`assets`')} and (\`deleted_at\` is not null or not exists (` +
        `select 1 from \`assets\` as \`b\` where \`b\`.\`owner_id\` = \`assets\`.\`owner_id\` and \`b\`.\`sha256\` = \`assets\`.\`sha256\` ` +
        `and \`b\`.\`deleted_at\` is null and ${inUploads('`b`')} ` +
        `and (\`b\`.\`created_at\` < \`assets\`.\`created_at\` or (\`b\`.\`created_at\` = \`assets\`.\`created_at\` and \`b\`.\`id\` < \`assets\`.\`id\`))));`,
    );
    this.addSql(
      `create unique index \`assets_owner_content_unique\` on \`assets\` (\`owner_id\`, \`content_key\`) where \`deleted_at\` is null;`,
    );
  }
}
