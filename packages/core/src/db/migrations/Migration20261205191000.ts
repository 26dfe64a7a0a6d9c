// First-run setup is claimed once: a table that can hold one row, so two setups racing (batched,
// parallel, or the web and `nook user create` at once) cannot both create an administrator.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261205191000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table \`setup_claim\` (\`id\` integer not null primary key check (\`id\` = 1), \`user_id\` text not null, \`claimed_at\` datetime not null);`,
    );
    // A Nook already set up has had its claim: the first account with a password made it.
    this.addSql(
      `insert into \`setup_claim\` (\`id\`, \`user_id\`, \`claimed_at\`) select 1, \`id\`, \`created_at\` from \`users\` where \`password_hash\` is not null order by \`created_at\` limit 1;`,
    );
  }
}
