// Every migration, in order. Listed explicitly so they load the same from source, tests and bundles.
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261124083144 } from './Migration20261124083144';
import { Migration20261124085522 } from './Migration20261124085522';
import { Migration20261124090604 } from './Migration20261124090604';
import { Migration20261124093025 } from './Migration20261124093025';
import { Migration20261124093212 } from './Migration20261124093212';
import { Migration20261124093311 } from './Migration20261124093311';
import { Migration20261124095917 } from './Migration20261124095917';
import { Migration20261124113913 } from './Migration20261124113913';
import { Migration20261124114800 } from './Migration20261124114800';
import { Migration20261124114900 } from './Migration20261124114900';
import { Migration20261124123500 } from './Migration20261124123500';
import { Migration20261124132000 } from './Migration20261124132000';
import { Migration20261130203000 } from './Migration20261130203000';
import { Migration20261130204000 } from './Migration20261130204000';
import { Migration20261130205000 } from './Migration20261130205000';
import { Migration20261205191000 } from './Migration20261205191000';
import { Migration20261205213000 } from './Migration20261205213000';

export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261124083144', class: Migration20261124083144 },
  { name: 'Migration20261124085522', class: Migration20261124085522 },
  { name: 'Migration20261124090604', class: Migration20261124090604 },
  { name: 'Migration20261124093025', class: Migration20261124093025 },
  { name: 'Migration20261124093212', class: Migration20261124093212 },
  { name: 'Migration20261124093311', class: Migration20261124093311 },
  { name: 'Migration20261124095917', class: Migration20261124095917 },
  { name: 'Migration20261124113913', class: Migration20261124113913 },
  { name: 'Migration20261124114800', class: Migration20261124114800 },
  { name: 'Migration20261124114900', class: Migration20261124114900 },
  { name: 'Migration20261124123500', class: Migration20261124123500 },
  { name: 'Migration20261124132000', class: Migration20261124132000 },
  { name: 'Migration20261130203000', class: Migration20261130203000 },
  { name: 'Migration20261130204000', class: Migration20261130204000 },
  { name: 'Migration20261130205000', class: Migration20261130205000 },
  { name: 'Migration20261205191000', class: Migration20261205191000 },
  { name: 'Migration20261205213000', class: Migration20261205213000 },
];
