// Backup runs remember the folder they wrote, so a target that empties (an unplugged disk leaves its
// mount point behind) is told apart from one that never held a backup.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261130203000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table \`backup_runs\` add column \`target_dir\` text null;`);
  }
}
