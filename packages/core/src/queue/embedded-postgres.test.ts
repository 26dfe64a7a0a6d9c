// The embedded PostgreSQL: private credentials, reuse across restarts, recovery from a stale pid file.
import { stat, writeFile, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../../test/harness';
import { createLogger } from '../logging/logger';
import { EmbeddedPostgres, findRunningEmbeddedPostgres } from './embedded-postgres';

const logger = createLogger('silent', false);

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('EmbeddedPostgres', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await makeTempDir();
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it(
    'creates a loopback-only cluster with a generated password kept at mode 0600, and reuses it',
    { timeout: 120_000 },
    async () => {
      const first = await EmbeddedPostgres.start(dataDir, logger);
      const url = first.connectionString;
      expect(url).toMatch(/^postgresql:\/\/nook:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
      expect((await stat(path.join(dataDir, 'pg.json'))).mode & 0o777).toBe(0o600);
      expect(await query(url, "select current_setting('listen_addresses') as listen")).toEqual([
        { listen: '127.0.0.1' },
      ]);
      await query(url, 'create table kept (value text); insert into kept values ($$still here$$)');
      expect(await findRunningEmbeddedPostgres(dataDir)).toBe(url);
      await first.stop();
      expect(await findRunningEmbeddedPostgres(dataDir)).toBeUndefined();

      const second = await EmbeddedPostgres.start(dataDir, logger);
      expect(second.connectionString).toBe(url);
      expect(await query(url, 'select value from kept')).toEqual([{ value: 'still here' }]);
      await second.stop();
    },
  );

  it(
    'starts although a crash left a postmaster.pid naming another process',
    { timeout: 120_000 },
    async () => {
      const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
      // PID 1 is alive but is not our server: PostgreSQL alone would refuse to start.
      await writeFile(pidFile, `1\n${path.join(dataDir, 'pg')}\n0\n5432\n`);
      const postgres = await EmbeddedPostgres.start(dataDir, logger);
      expect(await query(postgres.connectionString, 'select 1 as one')).toEqual([{ one: 1 }]);
      expect((await readFile(pidFile, 'utf8')).split('\n')[0]).not.toBe('1');
      await postgres.stop();
    },
  );
});
