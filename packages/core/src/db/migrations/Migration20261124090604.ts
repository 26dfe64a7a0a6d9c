// Media metadata on assets: taken-at source and offset, camera and exposure, GPS, video codec, ThumbHash.
import { Migration } from '@mikro-orm/migrations';

export class Migration20261124090604 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table \`assets\` add column \`taken_at_source\` text not null default 'file';`);
    this.addSql(`alter table \`assets\` add column \`time_zone_offset\` text null;`);
    this.addSql(`alter table \`assets\` add column \`make\` text null;`);
    this.addSql(`alter table \`assets\` add column \`model\` text null;`);
    this.addSql(`alter table \`assets\` add column \`lens\` text null;`);
    this.addSql(`alter table \`assets\` add column \`iso\` integer null;`);
    this.addSql(`alter table \`assets\` add column \`exposure_time\` double null;`);
    this.addSql(`alter table \`assets\` add column \`f_number\` double null;`);
    this.addSql(`alter table \`assets\` add column \`focal_length\` double null;`);
    this.addSql(`alter table \`assets\` add column \`latitude\` double null;`);
    this.addSql(`alter table \`assets\` add column \`longitude\` double null;`);
    this.addSql(`alter table \`assets\` add column \`video_codec\` text null;`);
    this.addSql(`alter table \`assets\` add column \`fps\` double null;`);
    this.addSql(`alter table \`assets\` add column \`thumbhash\` text null;`);
    this.addSql(`create index \`assets_camera_idx\` on \`assets\` (\`make\`, \`model\`);`);
    this.addSql(`create index \`assets_status_idx\` on \`assets\` (\`status\`);`);
  }
}
