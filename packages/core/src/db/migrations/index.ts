// Every migration, in order. Listed explicitly so they load the same from source, tests and bundles.
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261124083144 } from './Migration20261124083144';
import { Migration20261124085522 } from './Migration20261124085522';

export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261124083144', class: Migration20261124083144 },
  { name: 'Migration20261124085522', class: Migration20261124085522 },
];
