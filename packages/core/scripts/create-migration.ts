// Writes a migration for the difference between the entities and the migrated schema (a scratch DB).
// Usage: npm run migration:create -w @nook/core — then add a one-line header and list it in index.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MikroORM } from '@mikro-orm/sqlite';
import { ormOptions } from '../src/db/orm';

const scratch = mkdtempSync(path.join(tmpdir(), 'nook-migration-'));
const target = fileURLToPath(new URL('../src/db/migrations', import.meta.url));
const options = ormOptions(scratch);
const orm = await MikroORM.init({
  ...options,
  migrations: { ...options.migrations, path: target, emit: 'ts' },
});
try {
  await orm.getMigrator().up();
  const created = await orm.getMigrator().createMigration(target);
  process.stdout.write(created.diff.up.length ? `wrote ${created.fileName}\n` : 'the schema is up to date\n');
} finally {
  await orm.close();
  rmSync(scratch, { recursive: true, force: true });
}
