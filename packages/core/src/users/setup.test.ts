// First-run setup's one claim on an installation made before it existed, and which hosts may ask for setup.
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../../test/harness';
import { CLI_ACTOR } from '../audit/audit.service';
import { hashPassword } from '../auth/secrets';
import { openDatabase, type MikroORM } from '../db/orm';
import { NookError } from '../errors';
import { checkSetupOrigin, isHouseholdHost } from './setup-origin';
import { UserService } from './user.service';

describe('setup claim migration', () => {
  let orm: MikroORM | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await orm?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives an installation already set up its claim, so setup stays closed', async () => {
    dir = await makeTempDir();
    orm = await openDatabase(dir, { migrate: false });
    await orm.getMigrator().up({ to: 'Migration20261130205000' });
    const hash = await hashPassword('correct horse battery');
    await orm.em.fork().execute(
      `insert into users (id, username, display_name, role, password_hash, created_at)
       values ('00000000-0000-4000-8000-000000000001', 'owner', 'Owner', 'admin', ?, ?)`,
      [hash, Date.now()],
    );
    await orm.getMigrator().up();

    const em = orm.em.fork();
    expect(await em.execute('select id, user_id from setup_claim')).toEqual([
      { id: 1, user_id: '00000000-0000-4000-8000-000000000001' },
    ]);
    // Even if the users table were to look empty to a racing check, the claim is taken.
    await em.execute(`update users set password_hash = null`);
    await expect(
      new UserService(orm.em.fork()).setUp({ username: 'late', password: 'long enough pw' }, CLI_ACTOR),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});

describe('setup origin', () => {
  it('knows the household by address and name', () => {
    for (const host of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.5',
      '192.168.1.10',
      '169.254.3.4',
      '100.101.102.103',
      '::1',
      'fd12:3456::1',
      'fe80::1',
      '::ffff:c0a8:10a',
      'localhost',
      'nook',
      'raspberrypi',
      'nook.local',
      'nas.lan',
      'nook.home.arpa',
      'nook.internal',
    ])
      expect(isHouseholdHost(host), host).toBe(true);
    for (const host of [
      '8.8.8.8',
      '172.32.0.1',
      '2001:db8::1',
      '::ffff:808:808',
      'evil.example.com',
      'local.evil.com',
    ])
      expect(isHouseholdHost(host), host).toBe(false);
  });

  it('checks the Host and any Origin, allowing the configured public names', () => {
    const refused = (host: string, origin?: string, publicHosts: string[] = [], ip = '127.0.0.1') => {
      try {
        checkSetupOrigin({ host, origin, ip }, publicHosts);
        return false;
      } catch (error) {
        expect(error).toBeInstanceOf(NookError);
        return true;
      }
    };
    expect(refused('192.168.1.10:8080')).toBe(false);
    expect(refused('[::1]:8080', 'http://[::1]:8080')).toBe(false);
    expect(refused('nook.local.:8080')).toBe(false);
    expect(refused('evil.example.com')).toBe(true);
    expect(refused('192.168.1.10', 'https://evil.example.com')).toBe(true);
    expect(refused('192.168.1.10', 'null')).toBe(true);
    expect(refused('nook.local@evil.example.com')).toBe(true);
    expect(refused('photos.example.org', 'https://photos.example.org', ['photos.example.org'])).toBe(false);
    expect(refused('PHOTOS.example.org:443', undefined, ['photos.example.org'])).toBe(false);
    // A home name is believed only from the home network; a configured public name from anywhere.
    expect(refused('127.0.0.1:8080', undefined, [], '203.0.113.5')).toBe(true);
    expect(refused('nook.local', undefined, [], '::ffff:192.168.1.4')).toBe(false);
    expect(refused('nook.local', undefined, [], 'fe80::1%eth0')).toBe(false);
    expect(refused('photos.example.org', undefined, ['photos.example.org'], '203.0.113.5')).toBe(false);
  });
});
